// Apollo Client, as a single-page app uses it, against GRAPHQL_URL with GRAPHQL_TOKEN, driven
// by the Rust integration tests: one JSON line per check.
// - `errorPolicy`: a query for a patient that does not exist, with errorPolicy 'all': what the
//   component is handed (`data`, and the errors' codes).
// - `cache`: PATIENT_ID read, then updated by a mutation that selects `id` and the changed
//   field: what the normalized cache then holds for the first query.
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';

const { GRAPHQL_URL: uri, GRAPHQL_TOKEN: token, PATIENT_ID: id, NEW_PHONE: phone } = process.env;
const client = new ApolloClient({
  link: new HttpLink({
    uri,
    headers: { authorization: `Bearer ${token}` },
  }),
  cache: new InMemoryCache(),
});

const missing = await client.query({
  query: gql`query Missing { patient(id: "bogus") { id name } }`,
  errorPolicy: 'all',
});
console.log(
  JSON.stringify({
    check: 'errorPolicy',
    data: missing.data ?? null,
    codes: (missing.error?.errors ?? []).map((e) => e.extensions?.code ?? null),
  }),
);

const read = gql`query One($id: ID!) { patient(id: $id) { id name phone } }`;
await client.query({ query: read, variables: { id } });
await client.mutate({
  mutation: gql`
    mutation NewPhone($id: ID!, $phone: String!) {
      updatePatient(id: $id, input: { phone: $phone }) { id phone }
    }
  `,
  variables: { id, phone },
});
const cached = client.readQuery({ query: read, variables: { id } });
console.log(JSON.stringify({ check: 'cache', patient: cached?.patient ?? null }));
