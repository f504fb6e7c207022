/*
 * jitssh-authkeys-c: sshd's AuthorizedKeysCommand as a small static C
 * program, for the one hot path where process start dominates a login on a
 * busy machine (docs/benchmarks.md, "Instance side"). It speaks exactly what
 * jitssh-authkeys (internal/authkeyscli, internal/host/keyproto) speaks:
 *
 *   - connect to the io.jitssh.Keys socket (--socket, default
 *     /run/jitssh/io.jitssh.Keys) and trust only a root peer (SO_PEERCRED);
 *   - send keyproto.EncodeRequest's canonical NUL-terminated call (user and
 *     optional fingerprint; invalid UTF-8 refused, '"' '\' and control bytes
 *     escaped as EncodeRequest escapes them);
 *   - read one reply within the whole --timeout (default 4s), at most
 *     keyproto.MaxMessage bytes, and accept only the success layout
 *     keyproto.DecodeReply accepts, decoding its JSON escapes the same way;
 *   - print the keys (newline-terminated) and exit 0; on anything else print
 *     nothing and exit 1.
 *
 * When no service answers (ENOENT, ECONNREFUSED, EACCES, ENOTDIR, EPERM on
 * connect) it replaces itself with jitssh-authkeys from its own directory,
 * same arguments, so the Go client stays the single fallback path
 * ("--fallback none" refuses here directly). --help, bad arguments and
 * timeouts it does not parse (anything but N s / N ms) also go to
 * jitssh-authkeys, so usage and errors have one source.
 *
 * C99, libc only; built with `cc -O2 -static` by `make build`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/jitssh/io.jitssh.Keys"
#define MAX_MESSAGE (1 << 20)
#define EXIT_REFUSED 1
#define EXIT_USAGE 2

static const char prog[] = "jitssh-authkeys-c";

/* say writes one line to stderr: prog, a, b, c. */
static void say(const char *a, const char *b, const char *c)
{
	fprintf(stderr, "%s: %s%s%s\n", prog, a, b ? b : "", c ? c : "");
}

/* go_client replaces this process with jitssh-authkeys next to it, same
 * arguments. It returns only on failure. */
static int go_client(char **argv, const char *why)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 32);
	if (n <= 0) {
		say(why, "; cannot find jitssh-authkeys: ", strerror(errno));
		return EXIT_REFUSED;
	}
	self[n] = 0;
	char *slash = strrchr(self, '/');
	strcpy(slash ? slash + 1 : self, "jitssh-authkeys");
	argv[0] = self;
	execv(self, argv);
	char msg[PATH_MAX + 64];
	snprintf(msg, sizeof msg, "; run %s: ", self);
	say(why, msg, strerror(errno));
	return EXIT_REFUSED;
}

/* parse_timeout reads "N s" or "N ms" (digits only) into milliseconds in
 * (0, 60000]; 0 means "not understood here". */
static long parse_timeout(const char *s)
{
	long v = 0;
	const char *p = s;
	if (*p < '0' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > 60000)
			return 0;
	}
	if (strcmp(p, "s") == 0)
		v *= 1000;
	else if (strcmp(p, "ms") != 0)
		return 0;
	return v > 0 && v <= 60000 ? v : 0;
}

/* utf8_valid is Go's utf8.Valid: no overlongs, surrogates or > U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t k;
		unsigned lo = 0x80, hi = 0xbf;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			if (c == 0xe0)
				lo = 0xa0;
			if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			if (c == 0xf0)
				lo = 0x90;
			if (c == 0xf4)
				hi = 0x8f;
		} else {
			return 0;
		}
		if (n - i <= k)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t j = 2; j <= k; j++)
			if (s[i + j] < 0x80 || s[i + j] > 0xbf)
				return 0;
		i += k + 1;
	}
	return 1;
}

/* append_string appends s as keyproto.appendString does; -1 on invalid
 * UTF-8. dst must have room for 6*strlen(s)+2 bytes. */
static long append_string(char *dst, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s);
	if (!utf8_valid((const unsigned char *)s, n))
		return -1;
	char *d = dst;
	*d++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			*d++ = '\\';
			*d++ = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			*d++ = '\\';
			*d++ = 'u';
			*d++ = '0';
			*d++ = '0';
			*d++ = hex[c >> 4];
			*d++ = hex[c & 15];
		} else {
			*d++ = (char)c;
		}
	}
	*d++ = '"';
	return d - dst;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* hex4 parses four hex digits at q[i:], as keyproto.hex4. */
static long hex4(const unsigned char *q, size_t n, size_t i)
{
	if (i + 4 > n)
		return -1;
	long v = 0;
	for (size_t j = i; j < i + 4; j++) {
		int h = hexval(q[j]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t put_utf8(unsigned char *b, unsigned long r)
{
	if (r < 0x80) {
		b[0] = (unsigned char)r;
		return 1;
	}
	if (r < 0x800) {
		b[0] = (unsigned char)(0xc0 | (r >> 6));
		b[1] = (unsigned char)(0x80 | (r & 0x3f));
		return 2;
	}
	if (r < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (r >> 12));
		b[1] = (unsigned char)(0x80 | ((r >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (r & 0x3f));
		return 3;
	}
	b[0] = (unsigned char)(0xf0 | (r >> 18));
	b[1] = (unsigned char)(0x80 | ((r >> 12) & 0x3f));
	b[2] = (unsigned char)(0x80 | ((r >> 6) & 0x3f));
	b[3] = (unsigned char)(0x80 | (r & 0x3f));
	return 4;
}

/* unquote is keyproto.unquote on the string literal q[0:n] (quotes
 * included), decoding in place into out (room for n bytes); it returns the
 * decoded length or -1. */
static long unquote(const unsigned char *q, size_t n, unsigned char *out)
{
	if (n < 2 || q[0] != '"' || q[n - 1] != '"')
		return -1;
	q++;
	n -= 2;
	if (!utf8_valid(q, n))
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = q[i];
		if (c == '"' || c < 0x20)
			return -1;
		if (c != '\\') {
			out[o++] = c;
			continue;
		}
		if (++i >= n)
			return -1;
		switch (q[i]) {
		case '"':
		case '\\':
		case '/':
			out[o++] = q[i];
			break;
		case 'b':
			out[o++] = '\b';
			break;
		case 'f':
			out[o++] = '\f';
			break;
		case 'n':
			out[o++] = '\n';
			break;
		case 'r':
			out[o++] = '\r';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case 'u': {
			long r = hex4(q, n, i + 1);
			if (r < 0)
				return -1;
			i += 4;
			if (r >= 0xd800 && r <= 0xdfff) {
				if (i + 2 >= n || q[i + 1] != '\\' || q[i + 2] != 'u')
					return -1;
				long r2 = hex4(q, n, i + 3);
				if (r2 < 0)
					return -1;
				if (r > 0xdbff || r2 < 0xdc00 || r2 > 0xdfff)
					return -1;
				r = 0x10000 + ((r - 0xd800) << 10) + (r2 - 0xdc00);
				i += 6;
			}
			o += put_utf8(out + o, (unsigned long)r);
			break;
		}
		default:
			return -1;
		}
	}
	return (long)o;
}

/* decode_reply is the success half of keyproto.DecodeReply: it decodes the
 * keys of msg[0:n] in place and returns their length, or -1 for anything
 * but the canonical success reply. */
static long decode_reply(unsigned char *msg, size_t n)
{
	static const char prefix[] = "{\"parameters\":{\"authorizedKeys\":";
	static const char suffix[] = "}}";
	size_t pn = sizeof prefix - 1, sn = sizeof suffix - 1;
	if (n <= pn + sn || memcmp(msg, prefix, pn) != 0 || memcmp(msg + n - sn, suffix, sn) != 0)
		return -1;
	return unquote(msg + pn, n - pn - sn, msg);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* write_all writes b[0:n] to fd; sock: fd is the socket (no SIGPIPE when
 * the service has gone: an error, as in jitssh-authkeys). */
static int write_all(int fd, const unsigned char *b, size_t n, int sock)
{
	while (n > 0) {
		ssize_t w = sock ? send(fd, b, n, MSG_NOSIGNAL) : write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *sock = DEFAULT_SOCKET, *fallback = "";
	long timeout = 4000;
	int i = 1;
	for (; argv[i]; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		const char *name = a + 1 + (a[1] == '-');
		const char *eq = strchr(name, '=');
		size_t nl = eq ? (size_t)(eq - name) : strlen(name);
		const char *val = eq ? eq + 1 : argv[i + 1];
		if (!val)
			return go_client(argv, "arguments");
		if (nl == 6 && strncmp(name, "socket", 6) == 0)
			sock = val;
		else if (nl == 6 && strncmp(name, "config", 6) == 0)
			;
		else if (nl == 8 && strncmp(name, "fallback", 8) == 0)
			fallback = val;
		else if (nl == 7 && strncmp(name, "timeout", 7) == 0) {
			if (!(timeout = parse_timeout(val)))
				return go_client(argv, "arguments");
		} else
			return go_client(argv, "arguments"); /* --help, unknown flags */
		if (!eq)
			i++;
	}
	int nargs = argc - i;
	if (nargs < 1 || nargs > 2 || sock[0] != '/')
		return go_client(argv, "arguments");
	const char *user = argv[i], *fp = nargs == 2 ? argv[i + 1] : "";

	/* The request, as keyproto.EncodeRequest. */
	static const char head[] = "{\"method\":\"io.jitssh.Keys.Authorize\",\"parameters\":{\"user\":";
	static const char fphead[] = ",\"fingerprint\":";
	size_t cap = sizeof head + sizeof fphead + 6 * (strlen(user) + strlen(fp)) + 16;
	unsigned char *req = malloc(cap);
	if (!req) {
		say("out of memory", NULL, NULL);
		return EXIT_REFUSED;
	}
	size_t rn = sizeof head - 1;
	memcpy(req, head, rn);
	long w = append_string((char *)req + rn, user);
	if (w < 0) {
		say("request: not valid UTF-8", NULL, NULL);
		return EXIT_REFUSED;
	}
	rn += (size_t)w;
	if (*fp) {
		memcpy(req + rn, fphead, sizeof fphead - 1);
		rn += sizeof fphead - 1;
		if ((w = append_string((char *)req + rn, fp)) < 0) {
			say("request: not valid UTF-8", NULL, NULL);
			return EXIT_REFUSED;
		}
		rn += (size_t)w;
	}
	memcpy(req + rn, "}}", 3); /* with its NUL */
	rn += 3;

	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof sa.sun_path) {
		say("connect ", sock, ": socket path too long");
		return EXIT_REFUSED;
	}
	strcpy(sa.sun_path, sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		say("socket: ", strerror(errno), NULL);
		return EXIT_REFUSED;
	}
	struct timeval tv = {timeout / 1000, (timeout % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
		say("socket: ", strerror(errno), NULL);
		return EXIT_REFUSED;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		char why[PATH_MAX + 160];
		snprintf(why, sizeof why, "connect %s: %s", sock, strerror(e));
		if (e == ENOENT || e == ECONNREFUSED || e == EACCES || e == ENOTDIR || e == EPERM) {
			if (strcmp(fallback, "none") == 0) {
				say(why, ", and --fallback none", NULL);
				return EXIT_REFUSED;
			}
			close(fd);
			return go_client(argv, why);
		}
		say(why, NULL, NULL);
		return EXIT_REFUSED;
	}
	struct ucred cred;
	socklen_t cl = sizeof cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cl != sizeof cred) {
		say("peer credentials: ", strerror(errno), NULL);
		return EXIT_REFUSED;
	}
	if (cred.uid != 0) {
		char uid[32];
		snprintf(uid, sizeof uid, " is served by uid %u", (unsigned)cred.uid);
		say(sock, uid, ", not root: refusing to trust it");
		return EXIT_REFUSED;
	}
	long deadline = now_ms() + timeout;
	if (write_all(fd, req, rn, 1) < 0) {
		say("send: ", strerror(errno), NULL);
		return EXIT_REFUSED;
	}

	/* One reply: at most MAX_MESSAGE bytes, then its NUL, then nothing. */
	size_t bcap = MAX_MESSAGE + 1, n = 0;
	unsigned char *buf = malloc(bcap);
	if (!buf) {
		say("out of memory", NULL, NULL);
		return EXIT_REFUSED;
	}
	unsigned char *nul = NULL;
	while (!nul) {
		long left = deadline - now_ms();
		if (left <= 0) {
			say("no reply from the key service within the timeout", NULL, NULL);
			return EXIT_REFUSED;
		}
		struct pollfd p = {fd, POLLIN, 0};
		int pr = poll(&p, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			say("poll: ", strerror(errno), NULL);
			return EXIT_REFUSED;
		}
		if (pr == 0)
			continue; /* the deadline check above ends it */
		ssize_t r = read(fd, buf + n, bcap - n);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			say("read reply: ", strerror(errno), NULL);
			return EXIT_REFUSED;
		}
		if (r == 0) {
			say("the key service closed the connection without a complete reply", NULL, NULL);
			return EXIT_REFUSED;
		}
		nul = memchr(buf + n, 0, (size_t)r);
		n += (size_t)r;
		if (nul && nul != buf + n - 1) {
			say("the key service sent more than one reply", NULL, NULL);
			return EXIT_REFUSED;
		}
		if (!nul && n == bcap) {
			say("reply longer than 1048576 bytes", NULL, NULL);
			return EXIT_REFUSED;
		}
	}
	close(fd);
	long kn = decode_reply(buf, (size_t)(nul - buf));
	if (kn < 0) {
		say("the key service refused or sent a malformed reply", NULL, NULL);
		return EXIT_REFUSED;
	}
	if (kn == 0)
		return 0;
	if (buf[kn - 1] != '\n')
		buf[kn++] = '\n'; /* room: the reply is longer than its keys */
	if (write_all(1, buf, (size_t)kn, 0) < 0) {
		say("write keys: ", strerror(errno), NULL);
		return EXIT_REFUSED;
	}
	return 0;
}
