// dot_lite: a small library in the shape of graphviz's WASI build, for
// embedders that call C-string exports. A WASI reactor (no `_start`; the host
// runs `_initialize` once at instantiation) exporting:
//
//   malloc, free                  the C heap, for the host's arguments
//   const char *version(void)     a static string
//   char *render(const char *dot) `a -> b; b -> c` edges in, a text layout out
//                                 (a string the caller frees), NULL on error
//   const char *last_error(void)  why the last render failed
//
//   clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor \
//       dot_lite.c -o dot_lite.wasm

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 64
#define MAX_NAME 32

static char nodes[MAX_NODES][MAX_NAME];
static int node_count;
static int edges[MAX_NODES * 4][2];
static int edge_count;
static char error[128];

__attribute__((export_name("malloc"))) void *guest_malloc(size_t size) { return malloc(size); }

__attribute__((export_name("free"))) void guest_free(void *ptr) { free(ptr); }

__attribute__((export_name("version"))) const char *version(void) { return "dot_lite 1.0"; }

__attribute__((export_name("last_error"))) const char *last_error(void) { return error; }

// The index of the node `name` (`len` bytes), added if new; -1 when full.
static int node(const char *name, size_t len) {
    for (int i = 0; i < node_count; i++) {
        if (strlen(nodes[i]) == len && strncmp(nodes[i], name, len) == 0) {
            return i;
        }
    }
    if (node_count == MAX_NODES || len >= MAX_NAME) {
        return -1;
    }
    memcpy(nodes[node_count], name, len);
    nodes[node_count][len] = '\0';
    return node_count++;
}

// Reads a name at `*at`, skipping blanks; its length, 0 when there is none.
static size_t name_at(const char **at) {
    while (isspace((unsigned char)**at)) {
        (*at)++;
    }
    size_t len = 0;
    while (isalnum((unsigned char)(*at)[len]) || (*at)[len] == '_') {
        len++;
    }
    return len;
}

__attribute__((export_name("render"))) char *render(const char *dot) {
    node_count = 0;
    edge_count = 0;
    error[0] = '\0';
    const char *at = dot;
    for (;;) {
        size_t len = name_at(&at);
        if (len == 0) {
            break;
        }
        int from = node(at, len);
        at += len;
        while (isspace((unsigned char)*at)) {
            at++;
        }
        if (strncmp(at, "->", 2) != 0) {
            snprintf(error, sizeof error, "expected `->` at byte %d", (int)(at - dot));
            return NULL;
        }
        at += 2;
        len = name_at(&at);
        if (len == 0) {
            snprintf(error, sizeof error, "expected a node name at byte %d", (int)(at - dot));
            return NULL;
        }
        int to = node(at, len);
        at += len;
        if (from < 0 || to < 0 || edge_count == MAX_NODES * 4) {
            snprintf(error, sizeof error, "too many nodes or edges");
            return NULL;
        }
        edges[edge_count][0] = from;
        edges[edge_count][1] = to;
        edge_count++;
        while (isspace((unsigned char)*at)) {
            at++;
        }
        if (*at == ';') {
            at++;
        }
    }
    while (isspace((unsigned char)*at)) {
        at++;
    }
    if (*at != '\0') {
        snprintf(error, sizeof error, "unexpected `%c` at byte %d", *at, (int)(at - dot));
        return NULL;
    }
    // One line per node with what it points to, in order of appearance.
    size_t size = 64;
    for (int i = 0; i < node_count; i++) {
        size += strlen(nodes[i]) * (size_t)(edge_count + 2) + 8;
    }
    char *out = malloc(size);
    if (out == NULL) {
        snprintf(error, sizeof error, "out of memory");
        return NULL;
    }
    size_t used = (size_t)snprintf(out, size, "%d nodes, %d edges\n", node_count, edge_count);
    for (int i = 0; i < node_count; i++) {
        used += (size_t)snprintf(out + used, size - used, "%s:", nodes[i]);
        for (int e = 0; e < edge_count; e++) {
            if (edges[e][0] == i) {
                used += (size_t)snprintf(out + used, size - used, " %s", nodes[edges[e][1]]);
            }
        }
        used += (size_t)snprintf(out + used, size - used, "\n");
    }
    return out;
}
