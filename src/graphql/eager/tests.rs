use async_graphql::{Context, EmptyMutation, EmptySubscription, Interface, Object, Schema};

use super::{Eager, EagerList, PlainObjects};

#[derive(Clone)]
struct Doctor {
    name: &'static str,
}

#[Object]
impl Doctor {
    async fn name(&self) -> &str {
        self.name
    }
}

#[derive(Clone)]
struct Visit {
    id: i32,
}

/// Fields of every kind: plain, with an argument, failing (nullable and not), nested, and
/// one that waits before answering, as a DataLoader does.
#[Object]
impl Visit {
    async fn id(&self) -> i32 {
        self.id
    }

    async fn label(&self, #[graphql(default = "visit")] prefix: String) -> String {
        format!("{prefix}-{}", self.id)
    }

    async fn secret(&self) -> async_graphql::Result<Option<String>> {
        Err("FORBIDDEN".into())
    }

    async fn required(&self) -> async_graphql::Result<i32> {
        if self.id == 2 {
            Err("broken".into())
        } else {
            Ok(self.id)
        }
    }

    async fn doctor(&self) -> Eager<Doctor> {
        tokio::task::yield_now().await;
        Eager(Doctor { name: "Dr Who" })
    }

    async fn context_path(&self, ctx: &Context<'_>) -> String {
        ctx.path_node
            .map(|node| node.to_string())
            .unwrap_or_default()
    }
}

#[derive(Interface)]
#[graphql(field(name = "id", ty = "i32"))]
enum Node {
    Visit(Visit),
}

struct Query;

#[Object]
impl Query {
    async fn visits(&self) -> EagerList<Visit> {
        EagerList((1..=3).map(|id| Eager(Visit { id })).collect())
    }

    async fn node(&self) -> Node {
        Node::Visit(Visit { id: 7 })
    }
}

const DOCUMENT: &str = r#"
        query($skip: Boolean!) {
            visits {
                __typename
                label(prefix: "v")
                id
                again: id
                secret
                required
                doctor { name }
                ...More
                ... on Visit { doctor { __typename } id }
                contextPath @skip(if: $skip)
                skipped: id @skip(if: true)
            }
        }
        fragment More on Node { id ... on Visit { contextPath } }
    "#;

async fn run(hooks: bool) -> async_graphql::Response {
    let mut schema =
        Schema::build(Query, EmptyMutation, EmptySubscription).register_output_type::<Node>();
    if hooks {
        schema = schema.data(PlainObjects);
    }
    let request = async_graphql::Request::new(DOCUMENT).variables(
        async_graphql::Variables::from_json(serde_json::json!({ "skip": false })),
    );
    schema.finish().execute(request).await
}

#[tokio::test]
async fn answers_what_async_graphql_answers() {
    let eager = run(false).await;
    let own = run(true).await;
    let as_json =
        |response: &async_graphql::Response| serde_json::to_value(response).expect("serialises");
    assert_eq!(as_json(&eager)["data"], as_json(&own)["data"]);
    // async-graphql reports errors as its fields finish, in no fixed order.
    let errors = |response: &async_graphql::Response| {
        let mut errors: Vec<String> = response.errors.iter().map(|e| format!("{e:?}")).collect();
        errors.sort();
        errors
    };
    assert_eq!(errors(&eager), errors(&own));
    // Not empty-handed: the answers carry the data and the errors with their paths.
    let answer = as_json(&eager);
    assert_eq!(answer["data"]["visits"][0]["label"], "v-1");
    assert_eq!(
        answer["data"]["visits"][2]["doctor"]["__typename"],
        "Doctor"
    );
    assert_eq!(
        answer["data"]["visits"][1]["contextPath"],
        "visits.1.contextPath"
    );
    assert!(answer["data"]["visits"][0].get("skipped").is_none());
    assert_eq!(eager.errors.len(), 4, "{:?}", eager.errors);
}

#[tokio::test]
async fn keys_follow_the_selection() {
    let text = serde_json::to_string(&run(false).await).expect("serialises");
    let first = &text[text.find("\"visits\":[{").expect("visits")..];
    let first = &first[..first.find('}').expect("first visit")];
    let order: Vec<usize> = ["__typename", "label", "\"id", "again", "required", "doctor"]
        .iter()
        .map(|key| first.find(key).unwrap_or(usize::MAX))
        .collect();
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{first}");
}
