/**
 * `hypernet completion bash|zsh`: shell completion generated from the live commander tree (every
 * subcommand and flag of every subsystem, and the values of flags with fixed choices).
 * Install: `source <(hypernet completion bash)` or, for zsh, `source <(hypernet completion zsh)`.
 */
import type { Command } from 'commander';

/** path ('hypernet', 'hypernet network list' …) → words to offer; 'path|--flag' → the flag's choices. */
export function completionTable(root: Command): Map<string, string[]> {
  const table = new Map<string, string[]>();
  const walk = (cmd: Command, path: string) => {
    const words: string[] = [];
    for (const sub of cmd.commands) {
      if ((sub as unknown as { _hidden?: boolean })._hidden) continue;
      words.push(sub.name(), ...sub.aliases());
      walk(sub, `${path} ${sub.name()}`);
    }
    for (const o of cmd.options) {
      if (o.hidden) continue;
      if (o.long) words.push(o.long);
      if (o.argChoices?.length && o.long) table.set(`${path}|${o.long}`, [...o.argChoices]);
      if (o.argChoices?.length && o.short) table.set(`${path}|${o.short}`, [...o.argChoices]);
    }
    words.push('--help');
    table.set(path, words);
  };
  walk(root, root.name());
  return table;
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function entries(table: Map<string, string[]>): string {
  return [...table].map(([k, v]) => `  [${quote(k)}]=${quote(v.join(' '))}`).join('\n');
}

export function bashCompletion(root: Command): string {
  const name = root.name();
  return `# bash completion for ${name}; load with: source <(${name} completion bash)
declare -gA _${name}_words=(
${entries(completionTable(root))}
)
_${name}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" path=${name} w i next
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ $w == -* ]] && continue
    next="$path $w"
    [[ -n "\${_${name}_words[$next]+x}" ]] && path="$next"
  done
  if [[ -n "\${_${name}_words[$path|$prev]+x}" ]]; then
    COMPREPLY=($(compgen -W "\${_${name}_words[$path|$prev]}" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "\${_${name}_words[$path]}" -- "$cur"))
  fi
}
complete -F _${name} ${name}
`;
}

export function zshCompletion(root: Command): string {
  const name = root.name();
  return `#compdef ${name}
# zsh completion for ${name}; load with: source <(${name} completion zsh)
typeset -gA _${name}_words
_${name}_words=(
${[...completionTable(root)].map(([k, v]) => `  ${quote(k)} ${quote(v.join(' '))}`).join('\n')}
)
_${name}() {
  local path=${name} w next i
  for ((i = 2; i < CURRENT; i++)); do
    w="\${words[i]}"
    [[ $w == -* ]] && continue
    next="$path $w"
    (( \${+_${name}_words[$next]} )) && path="$next"
  done
  local prev="\${words[CURRENT-1]}"
  if (( \${+_${name}_words[$path|$prev]} )); then
    compadd -- \${=_${name}_words[$path|$prev]}
  else
    compadd -- \${=_${name}_words[$path]}
  fi
}
if (( $+functions[compdef] )); then compdef _${name} ${name}; fi
`;
}
