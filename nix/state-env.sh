# Which state directory a nixdots binary uses on a NixOS host, by who runs it.
# The module's wrappers run this (makeWrapper --run) after setting:
#   _nixdots_base   root's state directory (/var/lib/nixdots)
#   _nixdots_users  the users with a state directory of their own under it
#                   (space-separated: the dotfiles users and rebuild.smart.user)
#   _nixdots_reads  1 for rebuild-smart and rebuild-rollback, which read the
#                   other side's rebuild history and respect its lock
#   _nixdots_id     the id program (coreutils'; PATH may not have it yet)
#
# Root (the unattended timer, the pre-switch check, sudo) uses the base
# directory and reads the users' directories. A listed user uses
# <base>/<user> and reads the base directory. Anyone else keeps the binary's
# default ($XDG_STATE_HOME/nixdots). Nobody writes the other side's state:
# the binaries refuse a state directory that is not their user's.
#
# Runs in the wrapper's bash under `set -e`: every test is inside an if.
if [ "$("${_nixdots_id:-id}" -u)" = 0 ]; then
	export STATE_DIRECTORY="$_nixdots_base"
	if [ "$_nixdots_reads" = 1 ]; then
		_nixdots_r=
		for _nixdots_u in $_nixdots_users; do
			_nixdots_r="$_nixdots_r${_nixdots_r:+:}$_nixdots_base/$_nixdots_u"
		done
		export NIXDOTS_READ_STATE_DIRS="$_nixdots_r"
	fi
else
	_nixdots_u=$("${_nixdots_id:-id}" -un)
	if [ -d "$_nixdots_base/$_nixdots_u" ]; then
		export STATE_DIRECTORY="$_nixdots_base/$_nixdots_u"
		if [ "$_nixdots_reads" = 1 ]; then
			export NIXDOTS_READ_STATE_DIRS="$_nixdots_base"
		fi
	fi
fi
unset _nixdots_base _nixdots_users _nixdots_reads _nixdots_id _nixdots_r _nixdots_u
