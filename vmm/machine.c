// SPDX-License-Identifier: GPL-2.0-only
#include "machine.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>

static void vm_vstop_locked(struct vm *vm, int status, const char *fmt, va_list ap)
{
	if (vm->stopping)
		return;
	vm->stopping = true;
	vm->exit_status = status;
	vsnprintf(vm->exit_reason, sizeof(vm->exit_reason), fmt, ap);
	pthread_cond_broadcast(&vm->cond);
}

void vm_stop_locked(struct vm *vm, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vm_vstop_locked(vm, status, fmt, ap);
	va_end(ap);
}

void vm_stop(struct vm *vm, int status, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->lock);
	va_start(ap, fmt);
	vm_vstop_locked(vm, status, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&vm->lock);
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->run)
		return;
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (vcpu->thread_started)
		pthread_kill(vcpu->thread, SIGUSR1);
}
