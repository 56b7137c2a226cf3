# SPDX-License-Identifier: Apache-2.0
# zsh_complete.zsh FPATH LINE: types LINE and a Tab into an interactive zsh
# on a pseudo-terminal, with the completion functions in FPATH, and prints
# what zsh shows (its listing), then "match:WORD" for each word completion
# offered (what the completion functions gave compadd, as matched).
zmodload zsh/zpty
zpty shell zsh -f -i
zpty -w shell "PS1=''; fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -D"
# Each match as zsh matches it: compadd again with -O, into an array.
zpty -w shell 'compadd() {
    local -a found
    if (( ! ${@[(I)-[OAD]]} )); then
        builtin compadd -O found "$@"
        print -rl -- ${found/#/match:}
    fi
    builtin compadd "$@"
}'
# zle drops what is typed before it is ready: wait for each step.
zpty -w shell 'print -r -- READY-""FOR-TAB'
zpty -r shell out '*READY-FOR-TAB*'
sleep 0.5
zpty -w -n shell "$2"$'\t'
sleep 2
# Ctrl-U clears the line; the marker's quotes keep its echo from matching.
zpty -w shell $'\x15print -r -- END-OF-""MATCHES'
zpty -r shell out '*END-OF-MATCHES*'
print -r -- "$out" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g'
zpty -d shell
