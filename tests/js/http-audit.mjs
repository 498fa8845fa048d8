// The GraphQL-over-HTTP spec's server audits (graphql-http's `serverAudits`) against
// GRAPHQL_URL, driven by the Rust integration tests: one JSON line per audit,
// { id, name, status, reason }, status being ok, warn, notice or error.
import { serverAudits } from 'graphql-http';

const url = process.env.GRAPHQL_URL;
if (!url) {
  console.error('GRAPHQL_URL is not set');
  process.exit(2);
}
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  console.log(
    JSON.stringify({
      id: audit.id,
      name: audit.name,
      status: result.status,
      reason: result.reason ?? null,
    }),
  );
}
