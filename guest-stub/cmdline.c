// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest's command line: "key=value" words separated by blanks. Every
 * key the guest understands is in one table, checked once at boot before
 * any scenario runs, so that a typo (strategy=v13, reboot=linx, cycles=abc)
 * stops the guest with a message naming it instead of silently falling
 * back to a default and measuring something else. Adding a key is one
 * line in keys[] (and one row in README "Guest command line").
 */
#include "kexec.h"

enum cmdline_kind {
	CMDLINE_NUMBER, /* decimal or 0x hex, parse_num() */
	CMDLINE_WORD,	/* one of .words, or accepted by .known */
};

struct cmdline_key {
	const char *name;
	enum cmdline_kind kind;
	const char *const *words;	  /* NULL-terminated */
	bool (*known)(const char *value); /* for lists kept elsewhere (scenarios) */
};

/* The values of a word key, e.g. WORDS("linux", "offline") for reboot=. */
#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct cmdline_key keys[] = {
	{.name = "scenario", .kind = CMDLINE_WORD, .known = scenario_known},
	{.name = "strategy", .kind = CMDLINE_WORD, .words = strategy_names},
	{.name = "cycles", .kind = CMDLINE_NUMBER},
	{.name = "io", .kind = CMDLINE_NUMBER},
	{.name = "verbose", .kind = CMDLINE_NUMBER},
	{.name = "fault", .kind = CMDLINE_WORD, .words = WORDS("silent-share", "unmapped-share")},
	{.name = "n", .kind = CMDLINE_NUMBER},
	{.name = "rounds", .kind = CMDLINE_NUMBER},
	{.name = "flood", .kind = CMDLINE_NUMBER},
	{.name = "reboot", .kind = CMDLINE_WORD, .words = WORDS("linux", "offline")},
	{.name = "path", .kind = CMDLINE_WORD, .words = WORDS("kexec", "crash")},
	{.name = "device-shutdown", .kind = CMDLINE_WORD, .words = WORDS("stop", "none")},
	{.name = "fix", .kind = CMDLINE_WORD, .words = WORDS("ready-on-online")},
	{.name = "verify", .kind = CMDLINE_WORD, .words = WORDS("on", "off")},
};

/* Longer than any key or value we know: such a word is a mistake. */
#define WORD_MAX 64

static bool number_ok(const char *s, uint64_t *v)
{
	const char *end;

	return parse_num(s, &end, v) && !*end;
}

/* The command line's word that starts at p (ends at a blank or NUL). */
static size_t word_len(const char *p)
{
	size_t n = 0;

	while (p[n] && p[n] != ' ')
		n++;
	return n;
}

static const struct cmdline_key *find_key(const char *name)
{
	for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

static bool value_ok(const struct cmdline_key *k, const char *value)
{
	uint64_t v;

	if (k->kind == CMDLINE_NUMBER)
		return number_ok(value, &v);
	if (k->known)
		return k->known(value);
	for (const char *const *w = k->words; *w; w++)
		if (!strcmp(*w, value))
			return true;
	return false;
}

/* " (want a|b|c)" into buf: the values a word key accepts, for the message. */
static void list_words(const struct cmdline_key *k, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	if (!k->words)
		return;
	for (const char *const *w = k->words; *w && len < size; w++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "|" : " (want ", *w);
	if (len < size)
		snprintf(buf + len, size - len, ")");
}

/* The first word "key=..." at or after p, NULL when there is none. */
static const char *find_word(const char *p, const char *key, size_t klen)
{
	while (*p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == '=')
			return p;
		p += word_len(p);
	}
	return NULL;
}

/*
 * The VMM prints expr as "guest assertion failed: FILE:LINE: EXPR", so the
 * message names the offending word; static, because the VMM reads it from
 * guest memory after the ucall.
 */
static void __attribute__((noreturn, format(printf, 2, 3)))
cmdline_abort(int line, const char *fmt, ...)
{
	static char why[UCALL_STR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	guest_abort(why, __FILE__, line, 0);
}

void cmdline_check(void)
{
	const char *p = boot.cmdline;

	for (;;) {
		char word[WORD_MAX], wanted[128];
		const struct cmdline_key *k;
		const char *value;
		size_t n, keep, klen;
		char *eq;

		while (*p == ' ')
			p++;
		if (!*p)
			return;
		n = word_len(p);
		keep = n < sizeof(word) ? n : sizeof(word) - 1;
		memcpy(word, p, keep);
		word[keep] = '\0';
		if (n >= sizeof(word))
			cmdline_abort(__LINE__, "command-line word '%s...' is too long", word);
		eq = word;
		while (*eq && *eq != '=')
			eq++;
		if (!*eq)
			cmdline_abort(__LINE__, "command-line word '%s' is not KEY=VALUE", word);
		*eq = '\0';
		value = eq + 1;
		klen = (size_t)(eq - word);
		k = find_key(word);
		if (!k) {
			printf("known command-line keys:");
			for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
				printf(" %s", keys[i].name);
			printf("\n");
			cmdline_abort(__LINE__, "unknown command-line key '%s' in '%s=%s'", word,
				      word, value);
		}
		if (!value_ok(k, value)) {
			if (k->kind == CMDLINE_NUMBER)
				cmdline_abort(__LINE__,
					      "malformed number in command-line key '%s': '%s=%s'",
					      word, word, value);
			list_words(k, wanted, sizeof(wanted));
			cmdline_abort(__LINE__, "unknown %s '%s' on the command line%s", word,
				      value, wanted);
		}
		/* cmdline_get() would take the first and silently ignore the rest. */
		if (find_word(p + n, word, klen))
			cmdline_abort(__LINE__, "command-line key '%s' given twice", word);
		p += n;
	}
}

const char *cmdline_get(const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key), n = 0;
	const char *p = find_word(boot.cmdline, key, klen);

	if (!p)
		return NULL;
	for (p += klen + 1; p[n] && p[n] != ' ' && n + 1 < size; n++)
		buf[n] = p[n];
	buf[n] = '\0';
	return buf;
}

uint64_t cmdline_u64(const char *key, uint64_t def)
{
	char buf[WORD_MAX];
	uint64_t v;

	if (!cmdline_get(key, buf, sizeof(buf)))
		return def;
	GUEST_ASSERT(number_ok(buf, &v)); /* cmdline_check() let it through */
	return v;
}
