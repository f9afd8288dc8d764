import module from 'node:module';

// Imported first by the entry points. On Node ≥ 22.1, V8's compiled code of every module loaded after this
// is kept on disk (NODE_COMPILE_CACHE, by default in the system's temporary folder) and reused by the next
// start, which then skips most of the compiling. Node 20 has no such cache: a no-op there.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
