// Prints graphql-js's standard introspection documents as one JSON object: the plain form (what
// most tools send) and the form with every option on (what GraphiQL and codegen can ask for).
import { getIntrospectionQuery } from 'graphql';

const everyOption = {
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  oneOf: true,
};

process.stdout.write(
  JSON.stringify({
    plain: getIntrospectionQuery(),
    everyOption: getIntrospectionQuery(everyOption),
  }),
);
