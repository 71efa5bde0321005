// wasi_reactor: a WASI preview 1 reactor written in C. It has no `_start`;
// the host calls the exported `_initialize` once (which runs the C
// constructors), then calls the exports below as often as it likes.
//
//   clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor \
//       wasi_reactor.c -o wasi_reactor.wasm

#include <stdio.h>

static int initialized = 0;

__attribute__((constructor)) static void init(void) { initialized = 1; }

// 1 once `_initialize` has run the constructors, 0 before.
__attribute__((export_name("was_initialized"))) int was_initialized(void) { return initialized; }

// Prints `hello from reactor` to stdout and returns 42. Flushes, since a
// reactor has no exit that would flush stdio for it.
__attribute__((export_name("greet"))) int greet(void) {
    puts("hello from reactor");
    fflush(stdout);
    return 42;
}
