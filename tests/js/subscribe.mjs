// Subscribes over graphql-transport-ws with the real `graphql-ws` client, the
// way a single-page app would, and reports what happens as JSON lines on
// stdout so that a Rust integration test can drive and check it.
//
// Environment:
//   GRAPHQL_WS_URL     ws://host:port/path (required)
//   GRAPHQL_QUERY      subscription document (required)
//   GRAPHQL_TOKEN      bearer token, sent as connectionParams { token } (optional)
//   GRAPHQL_VARIABLES  JSON object (optional)
//   EXPECT_EVENTS      number of `next` payloads to wait for (default 1)
//   TIMEOUT_MS         overall deadline (default 15000)
//
// Exit codes: 0 got EXPECT_EVENTS payloads; 1 subscription error or bad
// configuration; 2 timed out; 3 socket closed first; 4 server completed first.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const env = process.env;

function usage(message) {
  process.stderr.write(`subscribe.mjs: ${message}\n`);
  process.exit(1);
}

const url = env.GRAPHQL_WS_URL || usage('GRAPHQL_WS_URL is required');
const query = env.GRAPHQL_QUERY || usage('GRAPHQL_QUERY is required');
let variables;
try {
  variables = env.GRAPHQL_VARIABLES ? JSON.parse(env.GRAPHQL_VARIABLES) : undefined;
} catch (err) {
  usage(`GRAPHQL_VARIABLES is not valid JSON: ${err.message}`);
}
const expected = Number(env.EXPECT_EVENTS ?? 1);
if (!Number.isInteger(expected) || expected < 1) usage('EXPECT_EVENTS must be a positive integer');
const timeoutMs = Number(env.TIMEOUT_MS ?? 15000);
if (!(timeoutMs > 0)) usage('TIMEOUT_MS must be a positive number');

// stdout is a pipe read line by line by the test; on Linux pipe writes are
// synchronous, so each line is out before any process.exit below.
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

// Error instances and ws ErrorEvents don't survive JSON.stringify; GraphQL
// error arrays from the server do, and are passed through untouched.
const describe = (err) =>
  err instanceof Error || (err && typeof err.message === 'string' && !Array.isArray(err))
    ? { message: err.message }
    : err;

let received = 0;
let ready = false; // the subscription is in place (see keepAlive below)
let succeeded = false; // got enough events; now only waiting for the close
let finished = false; // first outcome wins; later callbacks are echoes of it

function finish(code) {
  if (finished) return;
  finished = true;
  process.exit(code);
}

function onClosed(event) {
  if (finished) return;
  emit({ type: 'closed', code: event?.code ?? null, reason: String(event?.reason ?? '') });
  finish(3);
}

function onError(err) {
  if (finished || succeeded) return;
  // The client reports a dropped connection as a close event, not an Error.
  if (err && typeof err.code === 'number' && 'reason' in err) return onClosed(err);
  emit({ type: 'error', error: describe(err) });
  finish(1);
}

const timer = setTimeout(() => {
  if (finished) return;
  process.stderr.write(
    `subscribe.mjs: timed out after ${timeoutMs} ms with ${received}/${expected} events\n`,
  );
  finish(2);
}, timeoutMs);

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  lazy: false, // connect now, so "connected" is printed before the test mutates
  retryAttempts: 0, // a reconnect would hide the failure the test looks for
  connectionParams: env.GRAPHQL_TOKEN ? { token: env.GRAPHQL_TOKEN } : undefined,
  onNonLazyError: onError,
  // The protocol has no "subscribed" acknowledgement. A ping sent after the subscribe message
  // is answered after the server has read it (one socket, in order), so the first pong tells
  // the test that the subscription is in place and mutations may start.
  keepAlive: 100,
  on: {
    connected: () => emit({ type: 'connected' }),
    pong: (received) => {
      if (received && !ready) {
        ready = true;
        emit({ type: 'ready' });
      }
    },
    closed: (event) => (succeeded ? finish(0) : onClosed(event)),
  },
});

const unsubscribe = client.subscribe(
  { query, variables },
  {
    next(result) {
      if (succeeded || finished) return;
      emit({ type: 'next', payload: result });
      if (++received < expected) return;
      succeeded = true;
      clearTimeout(timer);
      // Stop the subscription and close with 1000 like an app unmounting; the
      // exit happens on the `closed` event, so the close frame is really sent.
      unsubscribe();
      client.dispose();
      setTimeout(() => finish(0), 2000).unref();
    },
    error: onError,
    complete() {
      if (succeeded || finished) return;
      emit({ type: 'complete' });
      finish(4);
    },
  },
);
