use async_graphql::parser::parse_query;

use super::*;

fn limits(max_selections: usize) -> DocumentLimits {
    DocumentLimits {
        max_selections,
        max_depth: usize::MAX,
        introspection: true,
    }
}

/// Selections and nesting of an accepted document.
fn measured(document: &ExecutableDocument) -> (u64, u64) {
    let expanded = check_document(document, &limits(5_000)).expect("accepted");
    (expanded.selections, expanded.nesting)
}

fn nested(open: &str, close: &str, levels: usize) -> String {
    format!(
        "{{ node(id: {}1{}) {{ id }} }}",
        open.repeat(levels),
        close.repeat(levels)
    )
}

#[test]
fn brackets_nest_up_to_the_limit() {
    // The document's own braces and the argument's brackets count together.
    assert_eq!(check_text(&nested("[", "]", MAX_NESTING - 1)), Ok(()));
    let refused = check_text(&nested("[", "]", MAX_NESTING)).unwrap_err();
    assert_eq!(refused.code, "DOCUMENT_TOO_NESTED");
    for levels in [2_000, 100_000] {
        assert_eq!(
            check_text(&nested("[", "]", levels)).unwrap_err().code,
            "DOCUMENT_TOO_NESTED"
        );
        assert_eq!(
            check_text(&nested("{a:", "}", levels)).unwrap_err().code,
            "DOCUMENT_TOO_NESTED"
        );
    }
}

#[test]
fn brackets_in_strings_and_comments_do_not_count() {
    let deep = "[".repeat(1_000);
    for text in [
        format!("{{ a(s: \"{deep}\") }}"),
        format!("{{ a(s: \"\\\"{deep}\") }}"),
        format!("{{ a(s: \"\"\"{deep}\\\"\"\"{deep}\"\"\") }}"),
        format!("# {deep}\n{{ a }}"),
    ] {
        assert_eq!(check_text(&text), Ok(()), "{text}");
    }
    // A closing quote ends the string: what follows counts again.
    let after = format!("{{ a(s: \"x\") {deep} }}");
    assert_eq!(check_text(&after).unwrap_err().code, "DOCUMENT_TOO_NESTED");
}

#[test]
fn tokens_are_bounded() {
    let fields = |n: usize| format!("{{ {} }}", "a ".repeat(n));
    assert_eq!(check_text(&fields(MAX_TOKENS - 2)), Ok(()));
    assert_eq!(
        check_text(&fields(MAX_TOKENS)).unwrap_err().code,
        "DOCUMENT_TOO_LARGE"
    );
}

/// `{...F0}` where each fragment spreads the next one twice: 2^levels selections expanded.
fn fan_out(levels: usize) -> String {
    let mut text = String::from("{ ...F0 }\n");
    for i in 0..levels {
        let next = i + 1;
        text.push_str(&format!(
            "fragment F{i} on Query {{ ...F{next} ...F{next} }}\n"
        ));
    }
    text.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    text
}

#[test]
fn fragment_fan_out_is_counted_without_expanding_it() {
    let small = parse_query(fan_out(3)).expect("parses");
    // 1 spread at the root, then 2 + 4 + 8 spreads, then 8 `__typename`s.
    assert_eq!(measured(&small), (1 + 2 + 4 + 8 + 8, 4));
    for (levels, code) in [
        (23, "QUERY_TOO_COMPLEX"),
        (30, "QUERY_TOO_COMPLEX"),
        (64, "DOCUMENT_TOO_NESTED"),
        (200, "DOCUMENT_TOO_NESTED"),
    ] {
        let document = parse_query(fan_out(levels)).expect("parses");
        let refused = check_document(&document, &limits(5_000)).unwrap_err();
        assert_eq!(refused.code, code, "{levels}: {refused:?}");
    }
}

#[test]
fn typename_counts_as_a_selection() {
    let aliases: String = (0..5_001).map(|i| format!("a{i}: __typename ")).collect();
    let document = parse_query(format!("{{ {aliases} }}")).expect("parses");
    assert_eq!(
        check_document(&document, &limits(5_000)).unwrap_err().code,
        "QUERY_TOO_COMPLEX"
    );
}

#[test]
fn a_long_chain_of_fragments_is_measured_without_recursion() {
    let levels = 40_000;
    let mut text = String::from("{ ...F0 }\n");
    for i in 0..levels {
        text.push_str(&format!("fragment F{i} on Query {{ ...F{} }}\n", i + 1));
    }
    text.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    let document = parse_query(&text).expect("parses");
    // On a 2 MiB stack, as a request runs on a tokio worker.
    let refused = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || check_document(&document, &limits(usize::MAX)))
        .expect("thread")
        .join()
        .expect("no overflow")
        .unwrap_err();
    assert_eq!(refused.code, "DOCUMENT_TOO_NESTED");
}

#[test]
fn fragment_cycles_are_refused() {
    for text in [
        "{ ...A } fragment A on Query { ...A }",
        "{ ...A } fragment A on Query { ...B ...B } fragment B on Query { me { ...C } } \
         fragment C on User { ... on User { id ...E } } fragment E on User { ...C }",
    ] {
        let document = parse_query(text).expect("parses");
        let refused = check_document(&document, &limits(5_000)).unwrap_err();
        assert_eq!(refused.code, "GRAPHQL_VALIDATION_FAILED", "{text}");
    }
    let document = parse_query(
        "{ ...A } fragment A on Query { ...B ...B } fragment B on Query { me { ...C } } \
         fragment C on User { ... on User { id } }",
    )
    .expect("parses");
    // A; B twice; each B: me, C, the inline fragment, id.
    assert_eq!(measured(&document), (1 + 2 + 2 * 4, 5));
}

#[test]
fn parse_errors_quote_a_short_excerpt() {
    let text = format!("{{ a {} ", "b ".repeat(80_000));
    let error = parse_query(&text).unwrap_err();
    let message = parse_error_message(&text, &error);
    assert!(
        message.len() < 400,
        "{} bytes: {message:.400}",
        message.len()
    );
    assert!(
        message.starts_with("syntax error at line 1, column "),
        "{message}"
    );
}

fn depth_of(text: &str) -> u64 {
    let document = parse_query(text).expect("parses");
    check_document(&document, &limits(5_000))
        .expect("accepted")
        .depth
}

#[test]
fn depth_counts_fields_as_async_graphql_does_but_not_type_references() {
    assert_eq!(depth_of("{ a }"), 1);
    assert_eq!(depth_of("{ a { b { c } } __typename }"), 3);
    // `__typename` adds no level; spreads and inline fragments add none either.
    assert_eq!(depth_of("{ a { __typename } }"), 1);
    assert_eq!(
        depth_of("{ a { ...F ... on T { b { c } } } } fragment F on T { d { e { f { g } } } }"),
        5
    );
    // A type reference's chain: `type` counts, each `ofType` does not.
    let chain = (0..9).fold("name".to_owned(), |inner, _| {
        format!("kind name ofType {{ {inner} }}")
    });
    assert_eq!(
        depth_of(&format!(
            "{{ __schema {{ types {{ fields {{ type {{ {chain} }} }} }} }} }}"
        )),
        5
    );
    let document = parse_query("{ a { b { c { d } } } }").expect("parses");
    let refused = check_document(
        &document,
        &DocumentLimits {
            max_depth: 3,
            ..limits(5_000)
        },
    )
    .unwrap_err();
    assert_eq!(refused.code, "QUERY_TOO_DEEP");
}

#[test]
fn sixty_levels_of_type_references_are_refused() {
    let chain = (0..60).fold("name".to_owned(), |inner, _| {
        format!("ofType {{ {inner} }}")
    });
    let text = format!("{{ __type(name: \"Patient\") {{ {chain} }} }}");
    assert_eq!(check_text(&text).unwrap_err().code, "DOCUMENT_TOO_NESTED");
    // Spread from fragment to fragment, the brackets of each stay shallow.
    let mut text = String::from("{ __type(name: \"Patient\") { ...R0 } }\n");
    for i in 0..60 {
        text.push_str(&format!(
            "fragment R{i} on __Type {{ ofType {{ ...R{} }} }}\n",
            i + 1
        ));
    }
    text.push_str("fragment R60 on __Type { name }\n");
    assert_eq!(check_text(&text), Ok(()));
    let document = parse_query(&text).expect("parses");
    let refused = check_document(&document, &limits(5_000)).unwrap_err();
    assert_eq!(refused.code, "DOCUMENT_TOO_NESTED");
}

#[test]
fn introspection_is_asked_for_in_good_faith() {
    let refused = |text: &str| {
        let document = parse_query(text).expect("parses");
        check_document(&document, &limits(5_000)).unwrap_err()
    };
    let aliases: String = (0..2_000)
        .map(|i| format!("s{i}: __schema {{ queryType {{ name }} }} "))
        .collect();
    let too_many = refused(&format!("{{ {aliases} }}"));
    assert_eq!(too_many.code, "INTROSPECTION_TOO_COMPLEX");
    assert!(
        too_many.message.contains("`__schema` 2000 times"),
        "{too_many:?}"
    );
    // Through fragments as well.
    let spread = refused("{ ...S ...S } fragment S on Query { __schema { types { name } } }");
    assert_eq!(spread.code, "INTROSPECTION_TOO_COMPLEX");
    // A list of the whole schema repeated under another alias.
    let lists = refused("{ __schema { types { fields { name } all: fields { name } } } }");
    assert_eq!(lists.code, "INTROSPECTION_TOO_COMPLEX");
    // Many cheap aliases inside one `__schema`.
    let names: String = (0..600).map(|i| format!("n{i}: name ")).collect();
    let wide = refused(&format!("{{ __schema {{ types {{ {names} }} }} }}"));
    assert_eq!(wide.code, "INTROSPECTION_TOO_COMPLEX");
    assert!(wide.message.contains("selections inside"), "{wide:?}");
    // Once each, in separate operations of one document, is fine; so is `__typename` anywhere.
    let document = parse_query(
        "query A { __schema { types { name } } } query B { __schema { types { name } } } \
         query C { a: __typename b: __typename }",
    )
    .expect("parses");
    assert!(check_document(&document, &limits(5_000)).is_ok());
}

#[test]
fn introspection_turned_off_is_refused_by_name() {
    let off = DocumentLimits {
        introspection: false,
        ..limits(5_000)
    };
    for text in [
        "{ __schema { queryType { name } } }",
        "{ a: __type(name: \"Patient\") { name } }",
        "{ ...F } fragment F on Query { __schema { types { name } } }",
    ] {
        let document = parse_query(text).expect("parses");
        let refused = check_document(&document, &off).unwrap_err();
        assert_eq!(refused.code, "INTROSPECTION_DISABLED", "{text}");
    }
    let document = parse_query("{ __typename me { __typename } }").expect("parses");
    assert!(check_document(&document, &off).is_ok());
}

#[test]
fn no_field_of_the_schema_is_named_like_an_introspection_field() {
    assert_eq!(
        introspection::schema_uses_counted_name(&crate::schema::sdl()),
        None
    );
}
