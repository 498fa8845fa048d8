// Starts GraphiQL on this server's endpoints. A file of its own, not an inline script: the
// page's Content-Security-Policy runs scripts from this server only (src/http/graphiql.rs).
(function () {
  var container = document.getElementById('graphiql');
  // Styles set through the CSSOM, which the policy allows (a style attribute it would not).
  document.body.style.margin = '0';
  container.style.height = '100vh';
  var socket = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;
  var fetcher = GraphiQL.createFetcher({
    url: '/graphql',
    subscriptionUrl: socket + '/graphql/ws',
  });
  ReactDOM.createRoot(container).render(
    React.createElement(GraphiQL, { fetcher: fetcher, defaultEditorToolsVisibility: true }),
  );
})();
