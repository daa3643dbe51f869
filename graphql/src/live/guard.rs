//! Only subscriptions run over the websocket: queries and mutations go to `POST /graphql`,
//! where every request is rate limited and errors are masked. A websocket connection is
//! known by the [`Connection`] in its session data.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{ServerError, ServerResult, Variables};

use super::hub::Connection;

/// The schema extension refusing queries and mutations on websocket connections.
pub struct SubscriptionsOnlyOnSockets;

impl ExtensionFactory for SubscriptionsOnlyOnSockets {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SubscriptionsOnlyOnSockets)
    }
}

#[async_trait::async_trait]
impl Extension for SubscriptionsOnlyOnSockets {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if ctx.data_opt::<Arc<Connection>>().is_some()
            && document
                .operations
                .iter()
                .any(|(_, op)| op.node.ty != OperationType::Subscription)
        {
            let mut e = ServerError::new(
                "only subscriptions run over the websocket: send queries and mutations to POST /graphql",
                None,
            );
            e.extensions
                .get_or_insert_with(Default::default)
                .set("code", "BAD_USER_INPUT");
            return Err(e);
        }
        Ok(document)
    }
}
