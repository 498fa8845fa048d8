use async_graphql::parser::parse_query;

use super::*;

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
    assert_eq!(
        check_document(&small, 5_000),
        Ok(Expanded {
            selections: 1 + 2 + 4 + 8 + 8,
            nesting: 4,
        })
    );
    for (levels, code) in [
        (23, "QUERY_TOO_COMPLEX"),
        (30, "QUERY_TOO_COMPLEX"),
        (64, "DOCUMENT_TOO_NESTED"),
        (200, "DOCUMENT_TOO_NESTED"),
    ] {
        let document = parse_query(fan_out(levels)).expect("parses");
        let refused = check_document(&document, 5_000).unwrap_err();
        assert_eq!(refused.code, code, "{levels}: {refused:?}");
    }
}

#[test]
fn typename_counts_as_a_selection() {
    let aliases: String = (0..5_001).map(|i| format!("a{i}: __typename ")).collect();
    let document = parse_query(format!("{{ {aliases} }}")).expect("parses");
    assert_eq!(
        check_document(&document, 5_000).unwrap_err().code,
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
        .spawn(move || check_document(&document, usize::MAX))
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
        let refused = check_document(&document, 5_000).unwrap_err();
        assert_eq!(refused.code, "GRAPHQL_VALIDATION_FAILED", "{text}");
    }
    let document = parse_query(
        "{ ...A } fragment A on Query { ...B ...B } fragment B on Query { me { ...C } } \
         fragment C on User { ... on User { id } }",
    )
    .expect("parses");
    assert_eq!(
        check_document(&document, 5_000),
        // A; B twice; each B: me, C, the inline fragment, id.
        Ok(Expanded {
            selections: 1 + 2 + 2 * 4,
            nesting: 5,
        })
    );
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
