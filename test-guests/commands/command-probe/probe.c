/*
 * command-probe: a WASI command (preview1 core module) that tests fdo's command path from the
 * inside. Each method, taken from FDO_METHOD, does one thing a command can do, well or badly:
 *
 *   echo         copies stdin to stdout (the request object comes back as the result)
 *   text         prints a line that is not JSON (the result is that string)
 *   env          prints {"env": {NAME: value, ...}, "argc", "preopens"} and writes every
 *                variable as NAME=value to stderr (the logs must scrub secrets)
 *   exit         writes two stderr lines, then exits with status 3
 *   ignore-stdin never reads stdin; prints {"ignored": true}
 *   read-more    reads stdin to its end, then reads three more times; prints
 *                {"bytes": N, "after": [r1, r2, r3]} (each later read must give 0, end of file)
 *   big          prints a JSON string of 1 MiB of 'x' (under the output cap)
 *   flood        writes to stdout forever (the host must stop it at its output cap)
 *   spin         loops forever (the host must stop it at its timeout)
 *   alloc        allocates memory 1 MiB at a time until malloc fails, then exits 4
 *
 * With REQUEST_METHOD set (deployed with "interface": "http") it is a CGI program:
 *   /status      answers 418 with a header and a short body
 *   /echo        answers 200 with JSON of the CGI variables it got and the body
 *   /no-status   answers headers and body without a Status header (200)
 *   /bad         prints no blank line after its "headers" (a malformed answer)
 *   /flood       writes forever
 *   /exit        exits with status 5 after printing a header
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static void json_string(FILE *out, const char *s) {
    fputc('"', out);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c < 0x20) fprintf(out, "\\u%04x", c);
        else fputc(c, out);
    }
    fputc('"', out);
}

/* Reads all of stdin; returns its length and the text in *text (NUL-terminated). */
static size_t read_stdin(char **text) {
    size_t cap = 1024, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
        ssize_t got = read(0, buf + n, cap - n);
        if (got <= 0) break;
        n += (size_t)got;
    }
    buf[n] = 0;
    *text = buf;
    return n;
}

static void print_env(FILE *out) {
    fputc('{', out);
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq) continue;
        char name[256];
        size_t len = (size_t)(eq - *e) < sizeof name - 1 ? (size_t)(eq - *e) : sizeof name - 1;
        memcpy(name, *e, len);
        name[len] = 0;
        if (e != environ) fputc(',', out);
        json_string(out, name);
        fputc(':', out);
        json_string(out, eq + 1);
    }
    fputc('}', out);
}

static int cgi(const char *path) {
    if (!strcmp(path, "/status")) {
        printf("Status: 418 I'm a teapot\nContent-Type: text/plain\nX-Probe: short and stout\n\n");
        printf("I'm a teapot");
        return 0;
    }
    if (!strcmp(path, "/echo")) {
        char *body;
        read_stdin(&body);
        printf("Content-Type: application/json\n\n{\"env\":");
        print_env(stdout);
        printf(",\"body\":");
        json_string(stdout, body);
        printf("}");
        return 0;
    }
    if (!strcmp(path, "/no-status")) {
        printf("Content-Type: text/plain\r\nX-Probe: crlf\r\n\r\nplain body");
        return 0;
    }
    if (!strcmp(path, "/bad")) {
        printf("this is not a header line and there is no blank line");
        return 0;
    }
    if (!strcmp(path, "/flood")) {
        printf("Content-Type: text/plain\n\n");
        for (;;) fputs("flood flood flood flood flood flood flood flood flood flood\n", stdout);
    }
    if (!strcmp(path, "/exit")) {
        printf("Content-Type: text/plain\n\npartial");
        fflush(stdout);
        fprintf(stderr, "probe: giving up\n");
        return 5;
    }
    printf("Status: 404 Not Found\n\n");
    return 0;
}

int main(int argc, char **argv) {
    (void)argv;
    const char *request_method = getenv("REQUEST_METHOD");
    if (request_method) return cgi(getenv("PATH_INFO") ? getenv("PATH_INFO") : "/");

    const char *method = getenv("FDO_METHOD");
    if (!method) method = "";
    if (!strcmp(method, "echo")) {
        char *in;
        size_t n = read_stdin(&in);
        fwrite(in, 1, n, stdout);
        return 0;
    }
    if (!strcmp(method, "text")) {
        puts("plain text, not JSON");
        return 0;
    }
    if (!strcmp(method, "env")) {
        DIR *root = opendir("/");
        DIR *here = opendir(".");
        printf("{\"env\":");
        print_env(stdout);
        printf(",\"argc\":%d,\"preopens\":%s}", argc, root || here ? "true" : "false");
        for (char **e = environ; *e; e++) fprintf(stderr, "%s\n", *e);
        return 0;
    }
    if (!strcmp(method, "exit")) {
        fprintf(stderr, "probe: first line\nprobe: something went wrong\n");
        return 3;
    }
    if (!strcmp(method, "ignore-stdin")) {
        printf("{\"ignored\":true}");
        return 0;
    }
    if (!strcmp(method, "read-more")) {
        char *in;
        size_t n = read_stdin(&in);
        char buf[64];
        ssize_t r1 = read(0, buf, sizeof buf), r2 = read(0, buf, sizeof buf), r3 = read(0, buf, sizeof buf);
        printf("{\"bytes\":%zu,\"after\":[%zd,%zd,%zd]}", n, r1, r2, r3);
        return 0;
    }
    if (!strcmp(method, "big")) {
        putchar('"');
        for (int i = 0; i < 1024; i++) {
            char line[1024];
            memset(line, 'x', sizeof line);
            fwrite(line, 1, sizeof line, stdout);
        }
        putchar('"');
        return 0;
    }
    if (!strcmp(method, "flood")) {
        /* Static: 64 KiB on the stack would be all of the default 64 KiB stack. */
        static char chunk[65536];
        memset(chunk, 'f', sizeof chunk);
        for (;;) fwrite(chunk, 1, sizeof chunk, stdout);
    }
    if (!strcmp(method, "spin")) {
        for (volatile unsigned long i = 0;; i++) {
        }
    }
    if (!strcmp(method, "alloc")) {
        /* The blocks are chained and the chain is used, so the compiler cannot drop them. */
        size_t mib = 0;
        void **chain = NULL;
        for (;;) {
            void **p = malloc(1 << 20);
            if (!p) break;
            memset(p, 1, 1 << 20);
            *p = chain;
            chain = p;
            mib++;
        }
        size_t blocks = 0;
        for (void **p = chain; p; p = *p) blocks++;
        fprintf(stderr, "probe: malloc failed after %zu MiB (%zu blocks)\n", mib, blocks);
        return 4;
    }
    fprintf(stderr, "probe: unknown method `%s`\n", method);
    return 2;
}
