import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  getNamedType,
  isObjectType,
  type FieldNode,
  type GraphQLField,
  type GraphQLNamedType,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/** How many items a list field may answer, from its arguments (a connection's `first`, clamped). */
export type ListSize = (field: GraphQLField<unknown, unknown>, args: Record<string, unknown>) => number;

/** The literal arguments of a field node (variables count as unknown: the list's maximum applies). */
function literalArgs(node: FieldNode): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const arg of node.arguments ?? []) {
    args[arg.name.value] = arg.value.kind === Kind.INT ? Number(arg.value.value) : undefined;
  }
  return args;
}

/**
 * A validation rule refusing documents whose estimated cost exceeds `max`: each field costs 1, times the
 * number of items its enclosing lists may answer (`listSize`), fragments included. It runs before anything
 * executes, so a refused document costs no query. Example: `validationRules: [complexityLimit(5000, size)]`.
 */
export function complexityLimit(max: number, listSize: ListSize): ValidationRule {
  return (context: ValidationContext) => {
    const costOf = (
      selection: SelectionSetNode | undefined,
      type: GraphQLNamedType,
      multiplier: number,
      seen: ReadonlySet<string>,
    ): number => {
      if (!selection || !isObjectType(type)) {
        return 0;
      }
      let cost = 0;
      for (const node of selection.selections) {
        if (node.kind === Kind.FIELD) {
          const field = type.getFields()[node.name.value];
          if (!field) {
            continue; // unknown fields are another rule's error
          }
          const items = multiplier * listSize(field, literalArgs(node));
          cost += multiplier + costOf(node.selectionSet, getNamedType(field.type), items, seen);
        } else if (node.kind === Kind.INLINE_FRAGMENT) {
          const inner = node.typeCondition
            ? (context.getSchema().getType(node.typeCondition.name.value) ?? type)
            : type;
          cost += costOf(node.selectionSet, inner, multiplier, seen);
        } else if (!seen.has(node.name.value)) {
          const fragment = context.getFragment(node.name.value);
          const inner = fragment && context.getSchema().getType(fragment.typeCondition.name.value);
          if (fragment && inner) {
            cost += costOf(fragment.selectionSet, inner, multiplier, new Set([...seen, node.name.value]));
          }
        }
        if (cost > max) {
          return cost; // enough to refuse; a huge document is not walked to its end
        }
      }
      return cost;
    };
    return {
      OperationDefinition(node) {
        const schema = context.getSchema();
        const root = {
          [OperationTypeNode.QUERY]: schema.getQueryType(),
          [OperationTypeNode.MUTATION]: schema.getMutationType(),
          [OperationTypeNode.SUBSCRIPTION]: schema.getSubscriptionType(),
        }[node.operation];
        const cost = root ? costOf(node.selectionSet, root, 1, new Set()) : 0;
        if (cost > max) {
          context.reportError(
            new GraphQLError(
              `The operation is too complex: its estimated cost is over ${max} (each field costs 1, times the items of the lists around it). Ask for fewer fields or smaller pages (first).`,
              { nodes: [node], extensions: { code: 'QUERY_TOO_COMPLEX', cost, maxComplexity: max } },
            ),
          );
        }
      },
    };
  };
}

/**
 * A validation rule refusing documents that nest fields deeper than `max` (fragments followed), so a
 * `parent { parent { … } }` chain cannot fan out without end. Example: `validationRules: [depthLimit(10)]`.
 */
export function depthLimit(max: number): ValidationRule {
  return (context: ValidationContext) => {
    const depthOf = (selection: SelectionSetNode | undefined, seen: ReadonlySet<string>): number => {
      let deepest = 0;
      for (const node of selection?.selections ?? []) {
        let depth = 0;
        if (node.kind === Kind.FIELD) {
          depth = node.name.value.startsWith('__') ? 0 : 1 + depthOf(node.selectionSet, seen);
        } else if (node.kind === Kind.INLINE_FRAGMENT) {
          depth = depthOf(node.selectionSet, seen);
        } else if (!seen.has(node.name.value)) {
          const fragment = context.getFragment(node.name.value);
          depth = depthOf(fragment?.selectionSet, new Set([...seen, node.name.value]));
        }
        deepest = Math.max(deepest, depth);
        if (deepest > max) {
          break;
        }
      }
      return deepest;
    };
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, new Set());
        if (depth > max) {
          context.reportError(
            new GraphQLError(
              `The operation is too deep: fields nest more than ${max} levels (GRAPHQL_MAX_DEPTH). Ask for fewer nested relations.`,
              { nodes: [node], extensions: { code: 'QUERY_TOO_DEEP', maxDepth: max } },
            ),
          );
        }
      },
    };
  };
}
