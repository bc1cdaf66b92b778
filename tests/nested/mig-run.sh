#!/bin/sh
# A migration inside the nested VM (kvm_amd): source and destination
# mini-vmm on the same host, through a snapshot or a unix socket.
#   mig-run.sh file|unix CORRUPT [source args...]
# CORRUPT: yes (the destination's migration_verify must name corrupted
# pages), no (the guest checked and found none), any; with +held (no+held)
# the point is the exit after the first injection of a reference run (no
# --migrate-at in the args), and the source's stop must have ended that
# injection's hold (inject_end). The source gets
# --log, --migrate-to and the guest; pass --migrate-at in the args.
# Exit status: the destination's, 92 when migration_verify disagrees with
# CORRUPT, 93 when the source failed (other than a failed check: 1), 94
# when +held and no hold was ended by the stop.
kind=$1
want=${2%+held}
held=${2#"$want"}
shift 2
cd "$(dirname "$0")"
src=/tmp/mig-src.$$.jsonl dst=/tmp/mig-dst.$$.jsonl
if [ -n "$held" ]; then
	./mini-vmm-static --log "$src" --migrate-to file:/tmp/never.$$ --migrate-at seq:100000000 \
		"$@" ./guest.elf >/dev/null 2>&1
	n=$(grep -m1 '"type":"inject"' "$src" | sed 's/^{"seq":\([0-9]*\),.*/\1/')
	[ -n "$n" ] || { echo "the reference run made no injection"; exit 94; }
	set -- "$@" --migrate-at "seq:$((n + 1))"
	echo "migrating at seq:$((n + 1)), the exit after the first injection"
fi
if [ "$kind" = file ]; then
	uri=file:/tmp/mig.$$.mvms
	./mini-vmm-static --log "$src" --migrate-to "$uri" "$@" ./guest.elf
	src_rc=$?
	./mini-vmm-static --log "$dst" --incoming "$uri"
	rc=$?
	rm -f /tmp/mig.$$.mvms /tmp/mig.$$.mvms.key
else
	uri=unix:/tmp/mig.$$.sock
	./mini-vmm-static --log "$dst" --incoming "$uri" &
	dpid=$!
	i=0
	while [ ! -S /tmp/mig.$$.sock ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	./mini-vmm-static --log "$src" --migrate-to "$uri" "$@" ./guest.elf
	src_rc=$?
	wait $dpid
	rc=$?
	rm -f /tmp/mig.$$.sock
fi
grep '"type":"migration_done"' "$src" "$dst"
grep '"type":"migration_verify"' "$dst"
grep '"type":"exit"' "$dst"
grep '"type":"inject_end"' "$src"
if [ "$src_rc" -ne 0 ] && [ "$src_rc" -ne 1 ]; then
	echo "source exit $src_rc"
	rc=93
elif [ "$want" = yes ] && ! grep '"type":"migration_verify"' "$dst" | grep -q '"corrupted":[1-9]'; then
	echo "want corrupted pages, the guest found none"
	rc=92
elif [ "$want" = no ] && ! grep '"type":"migration_verify"' "$dst" | grep -q '"reported":true,"migrations":[0-9]*,"checked":[1-9][0-9]*,"corrupted":0,'; then
	echo "want a clean memory check"
	rc=92
elif [ -n "$held" ] && ! grep -q '"type":"inject_end".*"why":"migration"' "$src"; then
	echo "want a held exit ended by the stop"
	rc=94
fi
rm -f "$src" "$dst"
exit $rc
