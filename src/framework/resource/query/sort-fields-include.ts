import type { ProblemFieldError } from 'src/framework/http/problem';
import type { FieldSpec, ResourceQuerySpec, SortTerm } from 'src/framework/resource/query-types';
import { listOf, quote } from 'src/framework/resource/query/raw-input';

/** `include=items.product` is depth 2; deeper paths are refused. */
const MAX_INCLUDE_DEPTH = 2;

/** The field behind a sort path: the id is always sortable (it is every sort's tie-breaker). */
export function sortField(path: string, spec: ResourceQuerySpec): FieldSpec | undefined {
  return path === spec.idPath ? spec.idField : spec.sortable.get(path);
}

export function parseSort(
  text: string | undefined,
  spec: ResourceQuerySpec,
  errors: ProblemFieldError[],
): SortTerm[] {
  const sort: SortTerm[] = [];
  if (text === undefined || text === '') {
    for (const term of spec.defaultSort) {
      sort.push({ path: term.path, direction: term.direction });
    }
  } else {
    for (const segment of text.split(',')) {
      const descending = segment.startsWith('-');
      const path = descending ? segment.slice(1) : segment;
      if (path === '') {
        errors.push({
          parameter: 'sort',
          code: 'invalid',
          message: 'sort has an empty term; write sort=-createdAt,name',
        });
        continue;
      }
      if (sortField(path, spec) === undefined) {
        const sortable = spec.sortable.has(spec.idPath)
          ? listOf(spec.sortable.keys())
          : listOf([...spec.sortable.keys(), spec.idPath]);
        errors.push({
          parameter: 'sort',
          code: 'unknown',
          message: `Unknown sort field ${quote(path)} on ${spec.name}; sortable: ${sortable}`,
        });
        continue;
      }
      if (sort.some((term) => term.path === path)) {
        errors.push({
          parameter: 'sort',
          code: 'invalid',
          message: `sort names ${quote(path)} more than once`,
        });
        continue;
      }
      sort.push({ path, direction: descending ? 'desc' : 'asc' });
    }
  }
  if (!sort.some((term) => term.path === spec.idPath)) {
    sort.push({ path: spec.idPath, direction: sort.length > 0 ? sort[sort.length - 1].direction : 'asc' });
  }
  return sort;
}

export function parseFields(
  text: string | undefined,
  spec: ResourceQuerySpec,
  errors: ProblemFieldError[],
): string[] | undefined {
  if (text === undefined || text === '') {
    return undefined;
  }
  const fields = [spec.idPath];
  for (const path of text.split(',')) {
    if (path === '') {
      errors.push({
        parameter: 'fields',
        code: 'invalid',
        message: 'fields has an empty entry; write fields=id,name',
      });
    } else if (path !== spec.idPath && !spec.selectable.has(path)) {
      errors.push({
        parameter: 'fields',
        code: 'unknown',
        message: `Unknown field ${quote(path)} on ${spec.name}; selectable: ${listOf(spec.selectable.keys())}`,
      });
    } else if (!fields.includes(path)) {
      fields.push(path);
    }
  }
  return fields;
}

export function parseInclude(
  text: string | undefined,
  spec: ResourceQuerySpec,
  errors: ProblemFieldError[],
): string[] {
  const include: string[] = [];
  if (text === undefined || text === '') {
    return include;
  }
  for (const path of text.split(',')) {
    if (path === '') {
      errors.push({
        parameter: 'include',
        code: 'invalid',
        message: 'include has an empty entry; write include=category,items.product',
      });
    } else if (depthOf(path) > MAX_INCLUDE_DEPTH) {
      errors.push({
        parameter: 'include',
        code: 'range',
        message: `include ${quote(path)} is nested too deeply (at most ${MAX_INCLUDE_DEPTH} levels, like items.product)`,
      });
    } else if (!spec.includable.has(path)) {
      errors.push({
        parameter: 'include',
        code: 'unknown',
        message: `Unknown include ${quote(path)} on ${spec.name}; includable: ${listOf(spec.includable)}`,
      });
    } else if (!include.includes(path)) {
      include.push(path);
    }
  }
  return include;
}

function depthOf(path: string): number {
  let depth = 1;
  for (let i = path.indexOf('.'); i >= 0; i = path.indexOf('.', i + 1)) {
    depth++;
  }
  return depth;
}
