/*
 * {{name}}: an fdo function in C, built as a WASI command (clang + wasi-libc).
 *
 * Called as a function (POST /v1/functions/{{name}} with {"method", "params"}): fdo runs
 * `_start` with the request as JSON on stdin and FDO_METHOD in the environment; stdout is the
 * answer, stderr goes to the function's logs, a non-zero exit status fails the call.
 *
 * Deployed with "interface": "http", it is a CGI program (WAGI conventions): the request comes
 * as REQUEST_METHOD, PATH_INFO, QUERY_STRING, CONTENT_TYPE and HTTP_* variables with the body on
 * stdin, and it answers with headers, a blank line and the body on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (1 << 20)
#define MAX_NAME 256

/* Reads all of stdin (at most MAX_INPUT bytes) into a NUL-terminated buffer. */
static char *read_all(size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap >= MAX_INPUT) {
                fprintf(stderr, "{{name}}: the request is larger than %d bytes\n", MAX_INPUT);
                exit(2);
            }
            cap *= 2;
            buf = realloc(buf, cap + 1);
            if (!buf) break;
        }
        size_t got = fread(buf + n, 1, cap - n, stdin);
        if (got == 0) {
            buf[n] = 0;
            *len = n;
            return buf;
        }
        n += got;
    }
    fprintf(stderr, "{{name}}: out of memory\n");
    exit(2);
}

/* --- a small JSON reader: enough to find the method and a name in the request --- */

static const char *ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

static void put_utf8(char *out, size_t cap, size_t *n, unsigned cp) {
    char tmp[4];
    size_t k = 0;
    if (cp < 0x80) tmp[k++] = (char)cp;
    else if (cp < 0x800) { tmp[k++] = (char)(0xc0 | cp >> 6); tmp[k++] = (char)(0x80 | (cp & 0x3f)); }
    else if (cp < 0x10000) { tmp[k++] = (char)(0xe0 | cp >> 12); tmp[k++] = (char)(0x80 | (cp >> 6 & 0x3f)); tmp[k++] = (char)(0x80 | (cp & 0x3f)); }
    else { tmp[k++] = (char)(0xf0 | cp >> 18); tmp[k++] = (char)(0x80 | (cp >> 12 & 0x3f)); tmp[k++] = (char)(0x80 | (cp >> 6 & 0x3f)); tmp[k++] = (char)(0x80 | (cp & 0x3f)); }
    for (size_t i = 0; i < k; i++) if (*n + 1 < cap) out[(*n)++] = tmp[i];
}

static int hex4(const char *p, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        *v <<= 4;
        if (c >= '0' && c <= '9') *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') *v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    return 1;
}

/* Parses the string at p (at its opening quote) into out (may be NULL); returns the position
 * after the closing quote, or NULL when it is not a valid string. */
static const char *string(const char *p, char *out, size_t cap) {
    size_t n = 0;
    char scratch[8];
    if (!out) { out = scratch; cap = 1; }
    if (*p++ != '"') return NULL;
    while (*p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20) return NULL;
        if (c != '\\') {
            if (n + 1 < cap) out[n++] = (char)c;
            p++;
            continue;
        }
        char e = p[1];
        p += 2;
        switch (e) {
        case '"': case '\\': case '/': if (n + 1 < cap) out[n++] = e; break;
        case 'b': if (n + 1 < cap) out[n++] = '\b'; break;
        case 'f': if (n + 1 < cap) out[n++] = '\f'; break;
        case 'n': if (n + 1 < cap) out[n++] = '\n'; break;
        case 'r': if (n + 1 < cap) out[n++] = '\r'; break;
        case 't': if (n + 1 < cap) out[n++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (!hex4(p, &cp)) return NULL;
            p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && p[0] == '\\' && p[1] == 'u' && hex4(p + 2, &lo)
                && lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
            put_utf8(out, cap, &n, cp);
            break;
        }
        default: return NULL;
        }
    }
    out[n] = 0;
    return p + 1;
}

/* Skips one JSON value; returns the position after it, or NULL when it is not valid. */
static const char *skip(const char *p, int depth) {
    p = ws(p);
    if (depth > 64) return NULL;
    if (*p == '"') return string(p, NULL, 0);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = ws(p + 1);
        if (*p == close) return p + 1;
        for (;;) {
            if (close == '}') {
                if (!(p = string(ws(p), NULL, 0))) return NULL;
                p = ws(p);
                if (*p++ != ':') return NULL;
            }
            if (!(p = skip(p, depth + 1))) return NULL;
            p = ws(p);
            if (*p == ',') { p++; continue; }
            return *p == close ? p + 1 : NULL;
        }
    }
    if (!strncmp(p, "true", 4)) return p + 4;
    if (!strncmp(p, "false", 5)) return p + 5;
    if (!strncmp(p, "null", 4)) return p + 4;
    const char *start = p;
    while (*p && strchr("+-0123456789.eE", *p)) p++;
    return p == start ? NULL : p;
}

/* The name in params: "Ada", ["Ada"] or {"name": "Ada"}; "stranger" otherwise. */
static void name_in_params(const char *p, char *name) {
    strcpy(name, "stranger");
    p = ws(p);
    if (*p == '"') {
        string(p, name, MAX_NAME);
    } else if (*p == '[') {
        p = ws(p + 1);
        if (*p == '"') string(p, name, MAX_NAME);
    } else if (*p == '{') {
        p = ws(p + 1);
        while (*p == '"') {
            char key[16];
            const char *after = string(p, key, sizeof key);
            if (!after) return;
            after = ws(after);
            if (*after != ':') return;
            after = ws(after + 1);
            if (!strcmp(key, "name")) {
                if (*after == '"') string(after, name, MAX_NAME);
                return;
            }
            if (!(p = skip(after, 1))) return;
            p = ws(p);
            if (*p != ',') return;
            p = ws(p + 1);
        }
    }
}

/* Writes s as a JSON string literal. */
static void put_json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

/* As a function: {"method": "hello", "params": ...} in, {"body": "Hello NAME!"} out. */
static int rpc(void) {
    size_t len;
    char *request = read_all(&len);
    const char *method = getenv("FDO_METHOD");
    const char *p = ws(request);
    if (*p != '{' || !skip(p, 0) || *ws(skip(p, 0))) {
        fprintf(stderr, "{{name}}: the request is not a JSON object\n");
        return 2;
    }
    if (!method || strcmp(method, "hello")) {
        fprintf(stderr, "{{name}}: unknown method `%s` (try hello)\n", method ? method : "");
        return 2;
    }
    char name[MAX_NAME] = "stranger";
    p = ws(p + 1);
    while (*p == '"') {
        char key[16];
        const char *after = ws(string(p, key, sizeof key));
        after = ws(after + 1); /* the ':' (the object was validated above) */
        if (!strcmp(key, "params")) name_in_params(after, name);
        p = ws(skip(after, 1));
        if (*p != ',') break;
        p = ws(p + 1);
    }
    fputs("{\"body\":", stdout);
    char greeting[MAX_NAME + 16];
    snprintf(greeting, sizeof greeting, "Hello %s!", name);
    put_json_string(greeting);
    fputs("}", stdout);
    fprintf(stderr, "{{name}}: greeted %s\n", name);
    free(request);
    return 0;
}

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v ? v : fallback;
}

/* As a CGI program: GET /hello?name=Ada greets, /echo describes the request, anything else is
 * a 404. */
static int cgi(void) {
    const char *method = env_or("REQUEST_METHOD", "GET");
    const char *path = env_or("PATH_INFO", "/");
    const char *query = env_or("QUERY_STRING", "");
    if (!strcmp(path, "/") || !strcmp(path, "/hello")) {
        char name[MAX_NAME] = "stranger";
        const char *q = strstr(query, "name=");
        if (q && (q == query || q[-1] == '&')) {
            size_t n = strcspn(q + 5, "&");
            if (n >= MAX_NAME) n = MAX_NAME - 1;
            memcpy(name, q + 5, n);
            name[n] = 0;
        }
        printf("Content-Type: text/plain; charset=utf-8\n\nHello %s!\n", name);
        fprintf(stderr, "{{name}}: greeted %s over CGI\n", name);
        return 0;
    }
    if (!strcmp(path, "/echo")) {
        size_t len;
        char *body = read_all(&len);
        printf("Status: 201 Created\nContent-Type: application/json\nX-Fdo-Guest: c-hello\n\n");
        fputs("{\"method\":", stdout); put_json_string(method);
        fputs(",\"path\":", stdout); put_json_string(path);
        fputs(",\"query\":", stdout); put_json_string(query);
        fputs(",\"contentType\":", stdout); put_json_string(env_or("CONTENT_TYPE", ""));
        fputs(",\"xTest\":", stdout); put_json_string(env_or("HTTP_X_TEST", ""));
        fputs(",\"body\":", stdout); put_json_string(body);
        fputs("}", stdout);
        free(body);
        return 0;
    }
    printf("Status: 404 Not Found\nContent-Type: text/plain\n\nno route for %s\n", path);
    return 0;
}

int main(void) {
    return getenv("REQUEST_METHOD") ? cgi() : rpc();
}
