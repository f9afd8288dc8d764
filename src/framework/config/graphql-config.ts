import { IsIn, IsOptional, Matches } from 'class-validator';
import type { GraphqlConfig, NodeEnv } from 'src/framework/config/nestor-config';

/** The GraphQL endpoint's environment variables (README "GraphQL"), validated with the others. */
export class GraphqlVariables {
  @IsOptional()
  @IsIn(['on', 'off'], { message: 'expected on or off' })
  GRAPHQL?: string;

  @IsOptional()
  @Matches(/^\/[a-z0-9_-]+(\/[a-z0-9_-]+)*$/, { message: 'expected a path such as /graphql' })
  GRAPHQL_PATH?: string;

  @IsOptional()
  @IsIn(['on', 'off'], { message: 'expected on or off' })
  GRAPHQL_IDE?: string;

  @IsOptional()
  @IsIn(['on', 'off'], { message: 'expected on or off' })
  GRAPHQL_INTROSPECTION?: string;

  @IsOptional()
  @IsIn(['automatic', 'off'], { message: 'expected automatic or off' })
  GRAPHQL_PERSISTED_QUERIES?: string;

  @IsOptional()
  @Matches(/^[1-9][0-9]?$/, { message: 'expected a depth from 1 to 99, e.g. 10' })
  GRAPHQL_MAX_DEPTH?: string;

  @IsOptional()
  @Matches(/^[1-9][0-9]{0,6}$/, { message: 'expected a whole number of at least 1, e.g. 5000' })
  GRAPHQL_MAX_COMPLEXITY?: string;
}

/**
 * The GraphQL settings: the IDE and introspection help while developing, so they are on outside
 * production and off in it unless set. Example: `graphqlConfig({ GRAPHQL_IDE: 'on' }, 'production').ide`.
 */
export function graphqlConfig(vars: GraphqlVariables, nodeEnv: NodeEnv): GraphqlConfig {
  const development = nodeEnv === 'production' ? 'off' : 'on';
  return {
    enabled: vars.GRAPHQL !== 'off',
    path: vars.GRAPHQL_PATH ?? '/graphql',
    ide: (vars.GRAPHQL_IDE ?? development) === 'on',
    introspection: (vars.GRAPHQL_INTROSPECTION ?? development) === 'on',
    maxDepth: Number(vars.GRAPHQL_MAX_DEPTH ?? 10),
    maxComplexity: Number(vars.GRAPHQL_MAX_COMPLEXITY ?? 5000),
    persistedQueries: vars.GRAPHQL_PERSISTED_QUERIES === 'off' ? 'off' : 'automatic',
  };
}
