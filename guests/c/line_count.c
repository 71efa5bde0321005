/*
 * plugin.line-count-c: the plugin ABI (ABI.md) in plain, freestanding C. No
 * libc, no SDK: its own allocator, its own (naive) JSON reading.
 *
 * Every event counts the lines of its `text` field and answers
 * {"success":true,"data":{"lines":N}}. Lines are counted as Rust's
 * `str::lines` counts them: each newline ends a line, and a last line without
 * one counts too ("" has 0 lines, "a\n" 1, "a\nb" 2). An event without a
 * `text` string fails: set_error, then 0.
 *
 * Built by `cargo xtask guests`:
 *   clang --target=wasm32 -O2 -nostdlib -Wl,--no-entry line_count.c -o line_count.wasm
 *
 * Exports: memory, alloc, dealloc, plugin_handle_event, plugin_get_manifest,
 * plugin_initialize (the Dart form: no arguments, 0 = ready) and the
 * diagnostic plugin_live_buffers. Import: plugin_system.set_error.
 */

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef __SIZE_TYPE__ usize;

#define EXPORT(name) __attribute__((export_name(name)))

/* The version marker and the wire format, as custom sections. In C this
 * takes assembly: clang gives a variable with
 * __attribute__((section(".custom_section.NAME"))) a data segment of that
 * name in linear memory, never a custom section (llvm-project issue 54552),
 * and wasm-ld drops it. */
__asm__(".section .custom_section.plugin_abi_version,\"\",@\n"
        ".ascii \"1\"\n"
        ".section .custom_section.plugin_wire_format,\"\",@\n"
        ".ascii \"json\"\n"
        ".text\n");

__attribute__((import_module("plugin_system"), import_name("set_error")))
void plugin_system_set_error(const char *ptr, usize len);

/* ------------------------------------------------------------------------
 * The allocator: blocks carved from the top of the heap (growing memory as
 * needed), recycled through a first-fit free list. Each block has an 8-byte
 * header holding its capacity; a free block keeps the next free block in its
 * first word. Blocks are never split or merged: enough for a plugin that
 * handles one message at a time.
 */

#define PAGE_SIZE 65536u
#define HEADER 8u
#define ALIGN 8u

extern u8 __heap_base;

struct block {
    u32 capacity; /* bytes after the header */
    u32 unused;   /* keeps the payload 8-byte aligned */
};

static usize heap_top;           /* first byte never handed out */
static struct block *free_list;  /* free blocks, linked through their payload */
static int live_buffers;         /* handed out and not freed */

static struct block **next_free(struct block *b) {
    return (struct block **)(b + 1);
}

static u8 *bump(u32 capacity) {
    if (heap_top == 0) {
        heap_top = ((usize)&__heap_base + ALIGN - 1) & ~(usize)(ALIGN - 1);
    }
    usize start = heap_top;
    usize end = start + HEADER + capacity;
    if (end < start) {
        return 0;
    }
    usize have = __builtin_wasm_memory_size(0) * PAGE_SIZE;
    if (end > have) {
        usize pages = (end - have + PAGE_SIZE - 1) / PAGE_SIZE;
        if (__builtin_wasm_memory_grow(0, pages) == (usize)-1) {
            return 0;
        }
    }
    heap_top = end;
    struct block *b = (struct block *)start;
    b->capacity = capacity;
    return (u8 *)(b + 1);
}

EXPORT("alloc")
u8 *alloc(usize len) {
    /* At least one word, for the free-list link; a multiple of 8. */
    if (len > 0x7ffffff0u) {
        return 0;
    }
    u32 capacity = len < ALIGN ? ALIGN : (u32)((len + ALIGN - 1) & ~(usize)(ALIGN - 1));
    u8 *payload = 0;
    for (struct block **link = &free_list; *link; link = next_free(*link)) {
        if ((*link)->capacity >= capacity) {
            struct block *b = *link;
            *link = *next_free(b);
            payload = (u8 *)(b + 1);
            break;
        }
    }
    if (!payload) {
        payload = bump(capacity);
    }
    if (payload) {
        live_buffers++;
    }
    return payload;
}

EXPORT("dealloc")
void dealloc(u8 *ptr, usize len) {
    (void)len; /* the header knows the capacity */
    if (!ptr) {
        return;
    }
    struct block *b = (struct block *)ptr - 1;
    *next_free(b) = free_list;
    free_list = b;
    live_buffers--;
}

EXPORT("plugin_live_buffers")
int plugin_live_buffers(void) {
    return live_buffers;
}

/* ------------------------------------------------------------------------
 * Replies.
 */

static usize length(const char *s) {
    usize n = 0;
    while (s[n]) {
        n++;
    }
    return n;
}

static void fail(const char *message) {
    plugin_system_set_error(message, length(message));
}

/* (ptr << 32) | len, or 0 when memory is exhausted. */
static u64 pack(const u8 *ptr, usize len) {
    return ((u64)(usize)ptr << 32) | (u64)len;
}

/* A reply buffer holding `text`, packed. */
static u64 reply(const char *text, usize len) {
    u8 *out = alloc(len);
    if (!out) {
        fail("out of memory for the reply");
        return 0;
    }
    for (usize i = 0; i < len; i++) {
        out[i] = (u8)text[i];
    }
    return pack(out, len);
}

static const char manifest[] =
    "{\"id\":\"plugin.line-count-c\",\"name\":\"Line Count (C)\",\"version\":\"1.0.0\","
    "\"description\":\"Counts the lines of a text; written in freestanding C\","
    "\"runtime\":\"wasm\",\"subscribesTo\":[\"count_lines\"]}";

EXPORT("plugin_get_manifest")
u64 plugin_get_manifest(void) {
    return reply(manifest, sizeof manifest - 1);
}

EXPORT("plugin_initialize")
int plugin_initialize(void) {
    return 0;
}

/* ------------------------------------------------------------------------
 * Events.
 */

static int is_space(u8 c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The offset just past the opening quote of the string value of the first
 * key `"text"` in `json`, or -1. Naive: it does not know where keys are, so
 * a string value that contains `"text":"` can fool it. */
static long find_text(const u8 *json, usize len) {
    static const char key[] = "\"text\"";
    const usize key_len = sizeof key - 1;
    for (usize i = 0; i + key_len <= len; i++) {
        usize k = 0;
        while (k < key_len && json[i + k] == (u8)key[k]) {
            k++;
        }
        if (k < key_len) {
            continue;
        }
        usize j = i + key_len;
        while (j < len && is_space(json[j])) {
            j++;
        }
        if (j >= len || json[j] != ':') {
            continue;
        }
        j++;
        while (j < len && is_space(json[j])) {
            j++;
        }
        if (j < len && json[j] == '"') {
            return (long)(j + 1);
        }
        return -1; /* `text` is there, but not a string */
    }
    return -1;
}

static int is_newline_escape(const u8 *hex) {
    /* \u000a or \u000A */
    return hex[0] == '0' && hex[1] == '0' && hex[2] == '0' && (hex[3] == 'a' || hex[3] == 'A');
}

/* Counts the lines of the JSON string starting at `json[start]` (after its
 * opening quote); -1 if it does not end. */
static long count_lines(const u8 *json, usize len, usize start) {
    long lines = 0;
    int line_open = 0; /* characters seen since the last newline */
    for (usize i = start; i < len; i++) {
        u8 c = json[i];
        int newline = 0;
        if (c == '"') {
            return lines + line_open;
        }
        if (c == '\\') {
            if (i + 1 >= len) {
                return -1;
            }
            u8 e = json[++i];
            if (e == 'n') {
                newline = 1;
            } else if (e == 'u') {
                if (i + 4 >= len) {
                    return -1;
                }
                newline = is_newline_escape(json + i + 1);
                i += 4;
            }
        } else if (c == '\n') {
            newline = 1; /* not valid JSON, but counted */
        }
        if (newline) {
            lines++;
            line_open = 0;
        } else {
            line_open = 1;
        }
    }
    return -1;
}

EXPORT("plugin_handle_event")
u64 plugin_handle_event(const u8 *ptr, usize len) {
    long start = find_text(ptr, len);
    if (start < 0) {
        fail("the event has no \"text\" string");
        return 0;
    }
    long lines = count_lines(ptr, len, (usize)start);
    if (lines < 0) {
        fail("the event's \"text\" string does not end");
        return 0;
    }

    char out[64];
    static const char head[] = "{\"success\":true,\"data\":{\"lines\":";
    static const char tail[] = "}}";
    usize n = 0;
    for (usize i = 0; i < sizeof head - 1; i++) {
        out[n++] = head[i];
    }
    char digits[24];
    usize d = 0;
    do {
        digits[d++] = (char)('0' + lines % 10);
        lines /= 10;
    } while (lines > 0);
    while (d > 0) {
        out[n++] = digits[--d];
    }
    for (usize i = 0; i < sizeof tail - 1; i++) {
        out[n++] = tail[i];
    }
    return reply(out, n);
}
