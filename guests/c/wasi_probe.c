// wasi_probe: a WASI preview 1 command written in C, with the same commands
// and output formats as the Rust `wasi-probe` (a subset of them). It shows
// that the runtime serves programs built by another toolchain and libc.
//
//   clang --target=wasm32-wasi --sysroot=/usr -O2 wasi_probe.c -o wasi_probe.wasm
//
// I/O errors print `error: <strerror>` to stderr and exit 1; an unknown
// command or wrong arguments print the usage to stderr and exit 2.

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char usage[] =
    "usage: wasi_probe <command> [args...]\n"
    "commands:\n"
    "  args [ARGS...]    print argv (argv[0] too), one element per line\n"
    "  env               print the environment as K=V, sorted\n"
    "  cat               copy stdin to stdout\n"
    "  read PATH         print the bytes of PATH\n"
    "  write PATH TEXT   create or truncate PATH and write TEXT\n"
    "  ls DIR            print the sorted entry names of DIR\n"
    "  clock             print the wall clock and check the monotonic clock\n"
    "  random N          print N random bytes as hex\n"
    "  exit N            exit with status N\n";

static int fail_usage(void) {
    fputs(usage, stderr);
    return 2;
}

static int fail_errno(void) {
    fprintf(stderr, "error: %s\n", strerror(errno));
    return 1;
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Parses a non-negative decimal number; returns -1 when `s` is not one.
static long parse_count(const char *s) {
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || n < 0) return -1;
    return n;
}

// Copies `in` to stdout until end of file.
static int copy_to_stdout(FILE *in) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (fwrite(buf, 1, n, stdout) != n) return fail_errno();
    }
    if (ferror(in)) return fail_errno();
    return 0;
}

static int cmd_args(int argc, char **argv) {
    for (int i = 0; i < argc; i++) puts(argv[i]);
    return 0;
}

static int cmd_env(void) {
    size_t count = 0;
    while (environ && environ[count]) count++;
    if (count == 0) return 0;
    char **vars = malloc(count * sizeof *vars);
    if (!vars) return fail_errno();
    memcpy(vars, environ, count * sizeof *vars);
    qsort(vars, count, sizeof *vars, compare_strings);
    for (size_t i = 0; i < count; i++) puts(vars[i]);
    free(vars);
    return 0;
}

static int cmd_read(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return fail_errno();
    int rc = copy_to_stdout(f);
    fclose(f);
    return rc;
}

static int cmd_write(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return fail_errno();
    size_t len = strlen(text);
    if (fwrite(text, 1, len, f) != len) {
        int rc = fail_errno();
        fclose(f);
        return rc;
    }
    if (fclose(f) != 0) return fail_errno();
    return 0;
}

static int cmd_ls(const char *path) {
    DIR *dir = opendir(path);
    if (!dir) return fail_errno();
    size_t count = 0, cap = 16;
    char **names = malloc(cap * sizeof *names);
    if (!names) return fail_errno();
    struct dirent *entry;
    errno = 0;
    while ((entry = readdir(dir)) != NULL) {
        // Like Rust's read_dir: leave out `.` and `..`.
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        if (count == cap) {
            cap *= 2;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) return fail_errno();
            names = grown;
        }
        names[count] = strdup(entry->d_name);
        if (!names[count]) return fail_errno();
        count++;
    }
    if (errno != 0) return fail_errno();
    closedir(dir);
    qsort(names, count, sizeof *names, compare_strings);
    for (size_t i = 0; i < count; i++) {
        puts(names[i]);
        free(names[i]);
    }
    free(names);
    return 0;
}

static int cmd_clock(void) {
    struct timespec real, first, second;
    if (clock_gettime(CLOCK_REALTIME, &real) != 0) return fail_errno();
    printf("realtime %lld\n", (long long)real.tv_sec);
    if (clock_gettime(CLOCK_MONOTONIC, &first) != 0) return fail_errno();
    if (clock_gettime(CLOCK_MONOTONIC, &second) != 0) return fail_errno();
    int ok = second.tv_sec > first.tv_sec ||
             (second.tv_sec == first.tv_sec && second.tv_nsec >= first.tv_nsec);
    puts(ok ? "monotonic ok" : "monotonic went backwards");
    return 0;
}

static int cmd_random(long n) {
    unsigned char buf[256];  // getentropy's limit per call
    while (n > 0) {
        size_t chunk = n < (long)sizeof buf ? (size_t)n : sizeof buf;
        if (getentropy(buf, chunk) != 0) return fail_errno();
        for (size_t i = 0; i < chunk; i++) printf("%02x", buf[i]);
        n -= (long)chunk;
    }
    putchar('\n');
    return 0;
}

static int run(int argc, char **argv) {
    if (argc < 2) return fail_usage();
    const char *cmd = argv[1];
    int rest = argc - 2;
    if (strcmp(cmd, "args") == 0) return cmd_args(argc, argv);
    if (strcmp(cmd, "env") == 0 && rest == 0) return cmd_env();
    if (strcmp(cmd, "cat") == 0 && rest == 0) return copy_to_stdout(stdin);
    if (strcmp(cmd, "read") == 0 && rest == 1) return cmd_read(argv[2]);
    if (strcmp(cmd, "write") == 0 && rest == 2) return cmd_write(argv[2], argv[3]);
    if (strcmp(cmd, "ls") == 0 && rest == 1) return cmd_ls(argv[2]);
    if (strcmp(cmd, "clock") == 0 && rest == 0) return cmd_clock();
    if (strcmp(cmd, "random") == 0 && rest == 1) {
        long n = parse_count(argv[2]);
        if (n < 0) return fail_usage();
        return cmd_random(n);
    }
    if (strcmp(cmd, "exit") == 0 && rest == 1) {
        char *end;
        long code = strtol(argv[2], &end, 10);
        if (*argv[2] == '\0' || *end != '\0') return fail_usage();
        fflush(stdout);
        exit((int)code);
    }
    return fail_usage();
}

int main(int argc, char **argv) {
    int rc = run(argc, argv);
    if (fflush(stdout) != 0 && rc == 0) rc = fail_errno();
    return rc;
}
