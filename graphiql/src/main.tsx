// GraphiQL served by the app itself (no CDN): Vite bundles React, GraphiQL and Monaco's workers into
// graphiql/dist, which the server answers at /graphiql when GRAPHQL_IDE is on.
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import './main.css';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

const root = document.getElementById('graphiql')!;
// Same origin: the browser sends the admin's session cookie; a token goes in the Headers tab
// (`{"Authorization": "Bearer …"}`), over HTTP and, for subscriptions, in the socket's connection_init.
const endpoint = new URL(root.dataset.endpoint ?? '/graphql', location.href);
const socket = new URL(endpoint);
socket.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
const fetcher = createGraphiQLFetcher({ url: endpoint.href, subscriptionUrl: socket.href });

createRoot(root).render(
  <StrictMode>
    <GraphiQL fetcher={fetcher} shouldPersistHeaders />
  </StrictMode>,
);
