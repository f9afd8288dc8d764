// Jest (on Node < 24.9) cannot require() ES modules, and NestJS 12 ships as ESM. This transformer runs
// our TypeScript and those packages' ESM through swc into CommonJS. `import.meta` has no CommonJS form,
// so its properties become the CommonJS equivalents first. Production needs none of this: Node 20.19+
// requires ESM natively.
const { createTransformer } = require('@swc/jest');

const swc = createTransformer({
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'commonjs', ignoreDynamic: false },
});

const IMPORT_META = [
  // ESM's way to get a require(); CommonJS already has one.
  [/(const|let|var)\s+require\s*=\s*createRequire\(import\.meta\.url\);?/g, ''],
  [/import\.meta\.url/g, 'require("node:url").pathToFileURL(__filename).href'],
  [/import\.meta\.dirname/g, '__dirname'],
  [/import\.meta\.filename/g, '__filename'],
  [/import\.meta\.resolve\(/g, 'require.resolve('],
];

function rewrite(source, filename) {
  if (!filename.includes('node_modules') || !source.includes('import.meta')) {
    return source;
  }
  return IMPORT_META.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), source);
}

module.exports = {
  ...swc,
  process(source, filename, options) {
    return swc.process(rewrite(source, filename), filename, options);
  },
  getCacheKey(source, filename, options) {
    return swc.getCacheKey(rewrite(source, filename), filename, options);
  },
};
