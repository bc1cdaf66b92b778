/* SPDX-License-Identifier: GPL-2.0-only */
/* Unit-test helper: count what a process holds (threads, descriptors). */
#ifndef MINIVMM_TEST_PROC_ENTRIES_H
#define MINIVMM_TEST_PROC_ENTRIES_H

#include <dirent.h>
#include <string.h>

/* Entries of a /proc/self directory (the DIR's own fd excluded for "fd"). */
static inline int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return strstr(dir, "/fd") ? n - 1 : n;
}

#endif
