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
// (`{"Authorization": "Bearer …"}`).
const fetcher = createGraphiQLFetcher({ url: root.dataset.endpoint ?? '/graphql' });

createRoot(root).render(
  <StrictMode>
    <GraphiQL fetcher={fetcher} shouldPersistHeaders />
  </StrictMode>,
);
