# ref: <https://fishshell.com/docs/current/cmds/fish_greeting.html>
set --global fish_greeting
