// SPDX-License-Identifier: GPL-2.0-only
/* Freestanding runtime: string functions, printf to the console, ucalls. */
#include "guest.h"

/*
 * No rep-string instructions: kvm_pvm emulates them one iteration at a
 * time (measured: 64 KiB of rep stosb = 65536 emulated instructions).
 */
void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;
	uint64_t v = 0x0101010101010101ull * (unsigned char)c;

	while (n && ((uintptr_t)p & 7)) {
		*p++ = (unsigned char)c;
		n--;
	}
	for (; n >= 8; n -= 8, p += 8)
		*(volatile uint64_t *)p = v;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	if (!(((uintptr_t)dp | (uintptr_t)sp) & 7))
		for (; n >= 8; n -= 8, dp += 8, sp += 8)
			*(volatile uint64_t *)dp = *(const uint64_t *)sp;
	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	if (dp <= sp || dp >= sp + n)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] - y[i];
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

bool parse_num(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0, base = 10;
	const char *p = s;
	bool any = false;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (;; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
		any = true;
	}
	if (end)
		*end = p;
	*out = v;
	return any;
}

struct outbuf {
	char *buf;
	size_t size, len;
};

static void out_c(struct outbuf *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_num(struct outbuf *o, uint64_t v, unsigned base, int width, char pad, bool neg)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	while (n < width--)
		out_c(o, pad);
	while (n)
		out_c(o, tmp[--n]);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct outbuf o = {buf, size, 0};

	for (; *fmt; fmt++) {
		int width = 0, lng = 0;
		char pad = ' ';

		if (*fmt != '%') {
			out_c(&o, *fmt);
			continue;
		}
		fmt++;
		if (*fmt == '#') {
			out_c(&o, '0');
			out_c(&o, 'x');
			fmt++;
		}
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);

			out_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, width, pad, v < 0);
			break;
		}
		case 'u':
			out_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width,
				pad, false);
			break;
		case 'x':
			out_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width,
				pad, false);
			break;
		case 'p':
			out_c(&o, '0');
			out_c(&o, 'x');
			out_num(&o, (uint64_t)va_arg(ap, void *), 16, width, pad, false);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);

			for (s = s ? s : "(null)"; *s; s++)
				out_c(&o, *s);
			break;
		}
		case 'c':
			out_c(&o, (char)va_arg(ap, int));
			break;
		case '%':
			out_c(&o, '%');
			break;
		default:
			out_c(&o, '?');
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/* This CPU's ucall page (our GHCB), or NULL when not booted by mini-vmm. */
static struct ucall *ucall_page(void)
{
	if (!boot.params || !boot.params->ucall_gpa || this_cpu() >= boot.params->nr_cpus)
		return NULL;
	return (struct ucall *)(boot.params->ucall_gpa + this_cpu() * PAGE_SIZE);
}

/*
 * Copy len bytes into this CPU's ucall page at offset off (from
 * MINIVMM_UCALL_DATA on) and return their GPA: under SEV the host reads
 * only shared pages, so what a ucall passes must be there (as a GHCB
 * carries its buffers). Without a ucall page, the data stays where it is.
 */
static uint64_t ucall_data(uint64_t off, const void *p, uint64_t len)
{
	uint8_t *page = (uint8_t *)ucall_page();

	if (!page)
		return (uint64_t)p;
	memcpy(page + MINIVMM_UCALL_DATA + off, p, len);
	return (uint64_t)(page + MINIVMM_UCALL_DATA + off);
}

/* A string for a ucall, cut where the host would cut it. */
static uint64_t ucall_str(uint64_t off, const char *str)
{
	char cut[UCALL_STR_MAX];
	size_t n = 0;

	while (n + 1 < sizeof(cut) && str[n]) {
		cut[n] = str[n];
		n++;
	}
	cut[n] = '\0';
	return ucall_page() ? ucall_data(off, cut, n + 1) : (uint64_t)str;
}

/* Console: buffered, flushed with one PRINT ucall (an exit costs ~25 us). */
static char con_buf[UCALL_PRINT_MAX];
static size_t con_len;
static volatile int con_lock;

void console_flush(void)
{
	if (!con_len)
		return;
	if (boot.params) {
		ucall(UCALL_PRINT, 2, ucall_data(0, con_buf, con_len), (uint64_t)con_len);
	} else {
		for (size_t i = 0; i < con_len; i++)
			outb(MINIVMM_PORT_CONSOLE, (uint8_t)con_buf[i]);
	}
	con_len = 0;
}

int printf(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	while (__atomic_exchange_n(&con_lock, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
	for (int i = 0; i < n && line[i]; i++) {
		if (con_len == sizeof(con_buf))
			console_flush();
		con_buf[con_len++] = line[i];
	}
	if (con_len > sizeof(con_buf) / 2)
		console_flush();
	__atomic_store_n(&con_lock, 0, __ATOMIC_RELEASE);
	return n;
}

uint64_t ucall(uint32_t cmd, unsigned nargs, ...)
{
	struct ucall local, *uc = ucall_page();
	uint64_t ret;
	va_list ap;

	if (!uc)
		uc = &local;
	uc->cmd = cmd;
	uc->nargs = nargs;
	va_start(ap, nargs);
	for (unsigned i = 0; i < UCALL_MAX_ARGS; i++)
		uc->args[i] = i < nargs ? va_arg(ap, uint64_t) : 0;
	va_end(ap);
	__asm__ volatile("outb %%al, %[port]"
			 : "=a"(ret)
			 : "a"(0), "D"(uc), [port] "i"(MINIVMM_PORT_UCALL)
			 : "memory");
	return ret;
}

void __attribute__((noreturn)) cpu_park(volatile uint32_t *counter, bool clear)
{
	/*
	 * Onto the firmware's identity map first: once the others see this
	 * CPU gone, the next kernel may reuse the memory of our page tables,
	 * and the PARK ucall is read through whatever this CPU maps.
	 */
	load_cr3(boot_cr3);
	if (clear)
		__atomic_store_n(counter, 0, __ATOMIC_SEQ_CST);
	else
		__atomic_sub_fetch(counter, 1, __ATOMIC_SEQ_CST);
	ucall(UCALL_PARK, 0);
	for (;;)
		__asm__ volatile("hlt");
}

void guest_done(uint64_t status)
{
	if (status == 0)
		vpat_poll(); /* a migration since the last look is checked before the end */
	console_flush();
	ucall(UCALL_DONE, 1, status);
	for (;;)
		__asm__ volatile("hlt");
}

void guest_abort(const char *expr, const char *file, int line, uint64_t value)
{
	console_flush();
	ucall(UCALL_ABORT, 4, ucall_str(0, expr), ucall_str(UCALL_STR_MAX, file), (uint64_t)line,
	      value);
	for (;;)
		__asm__ volatile("hlt");
}

void guest_sync4(uint64_t tag, uint64_t arg, uint64_t a2, uint64_t a3)
{
	console_flush();
	ucall(UCALL_SYNC, 4, tag, arg, a2, a3);
}

void guest_sync(uint64_t tag, uint64_t arg, uint64_t flags)
{
	console_flush();
	ucall(UCALL_SYNC, 3, tag, arg, flags);
}

void guest_yield(void)
{
	vpat_poll();
	if (boot.params && (boot.params->flags & MINIVMM_FLAG_SERIAL))
		ucall(UCALL_YIELD, 0);
	else
		cpu_relax();
}
