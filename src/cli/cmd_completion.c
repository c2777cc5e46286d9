/*
 * cmd_completion.c — `confiture completion bash|zsh|fish`: prints a shell
 * completion script generated from the command tables.
 *
 * The tables live in each command's file, and each of them already renders
 * itself as --help (commands, subcommands, options).  So the generator runs
 * this very program (argv[0]) with --help at every level and reads those
 * lists back:
 * whatever a command accepts, its completion offers, with no second list
 * to keep in step.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A command path ("migrate up") and its words: subcommands or options. */
struct comp_node {
	char *path;
	char **words;
	size_t n;
	bool leaf; /* words are options */
};

struct comp_tree {
	struct comp_node *nodes;
	size_t n;
};

static const char *const shells[] = {"bash", "zsh", "fish", NULL};

static void
add_word(struct comp_node *node, const char *w, size_t len)
{
	node->words = cli_realloc(node->words, node->n + 1, sizeof(char *));
	node->words[node->n++] = cli_asprintf("%.*s", (int)len, w);
}

/*
 * Reads `confiture PATH --help`: the names under "commands:" or
 * "subcommands:", else the long and short options under "options:".
 */
static void
read_help(const char *self, struct comp_node *node)
{
	char *cmd = cli_asprintf("'%s' %s --help 2>/dev/null", self,
				 node->path);
	FILE *p = popen(cmd, "r");
	char *line = NULL;
	size_t cap = 0;
	int section = 0; /* 1 names, 2 options */

	free(cmd);
	if (!p)
		return;
	while (getline(&line, &cap, p) >= 0) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "commands:") == 0 ||
		    strcmp(line, "subcommands:") == 0) {
			section = 1;
		} else if (strcmp(line, "options:") == 0) {
			section = 2;
			node->leaf = true;
		} else if (line[0] != ' ') {
			section = 0;
		} else if (section == 1) {
			const char *w = line + strspn(line, " ");

			add_word(node, w, strcspn(w, " "));
		} else if (section == 2) {
			/* "  -f, --format FORMAT   help" */
			for (char *w = strtok(line, " ,"); w && *w == '-';
			     w = strtok(NULL, " ,"))
				add_word(node, w, strlen(w));
		}
	}
	free(line);
	pclose(p);
}

static void
build(const char *self, struct comp_tree *t, const char *path)
{
	size_t idx = t->n;

	t->nodes = cli_realloc(t->nodes, t->n + 1, sizeof(*t->nodes));
	memset(&t->nodes[idx], 0, sizeof(*t->nodes));
	t->nodes[idx].path = cli_asprintf("%s", path);
	t->n++;
	read_help(self, &t->nodes[idx]);
	/* depth two at most: confiture migrate up */
	if (t->nodes[idx].leaf || strchr(path, ' '))
		return;
	for (size_t i = 0; i < t->nodes[idx].n; i++) {
		char *sub = *path ? cli_asprintf("%s %s", path,
						 t->nodes[idx].words[i]) :
				    cli_asprintf("%s", t->nodes[idx].words[i]);

		if (strcmp(sub, "completion") != 0)
			build(self, t, sub);
		free(sub);
	}
}

static void
put_words(FILE *f, const struct comp_node *node)
{
	for (size_t i = 0; i < node->n; i++)
		fprintf(f, "%s%s", i ? " " : "", node->words[i]);
}

static void
print_bash(FILE *f, const struct comp_tree *t)
{
	fputs("# bash completion for confiture (confiture completion bash)\n"
	      "_confiture()\n{\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} path= i w words\n"
	      "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	      "\t\tw=${COMP_WORDS[i]}\n"
	      "\t\tcase $w in -*) continue ;; esac\n"
	      "\t\tcase \"${path:+$path }$w\" in\n",
	      f);
	for (size_t i = 1; i < t->n; i++)
		fprintf(f, "\t\t'%s') path=\"${path:+$path }$w\" ;;\n",
			t->nodes[i].path);
	fputs("\t\tcompletion) path=completion ;;\n"
	      "\t\tesac\n\tdone\n\tcase $path in\n",
	      f);
	for (size_t i = 0; i < t->n; i++) {
		fprintf(f, "\t'%s') words='", t->nodes[i].path);
		put_words(f, &t->nodes[i]);
		if (!*t->nodes[i].path)
			fputs(" --help --version --color=auto --color=always "
			      "--color=never",
			      f);
		fputs("' ;;\n", f);
	}
	fputs("\tcompletion) words='bash zsh fish' ;;\n"
	      "\t*) words= ;;\n\tesac\n"
	      "\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
	      "\t[ ${#COMPREPLY[@]} -eq 0 ] && COMPREPLY=($(compgen -f -- \"$cur\"))\n"
	      "\treturn 0\n}\ncomplete -F _confiture confiture\n",
	      f);
}

static void
print_zsh(FILE *f, const struct comp_tree *t)
{
	/* zsh runs bash completion functions through bashcompinit */
	fputs("#compdef confiture\n"
	      "# zsh completion for confiture (confiture completion zsh)\n"
	      "autoload -U +X bashcompinit && bashcompinit\n",
	      f);
	print_bash(f, t);
}

static void
print_fish(FILE *f, const struct comp_tree *t)
{
	fputs("# fish completion for confiture (confiture completion fish)\n"
	      "function __confiture_path\n"
	      "\tset -l words (commandline -opc)\n"
	      "\tset -e words[1]\n"
	      "\tstring join ' ' (string match -v -- '-*' $words)\n"
	      "end\n"
	      "complete -c confiture -f\n",
	      f);
	for (size_t i = 0; i < t->n; i++) {
		const struct comp_node *node = &t->nodes[i];

		for (size_t k = 0; k < node->n; k++) {
			const char *w = node->words[k];

			fprintf(f,
				"complete -c confiture -n 'test \"(__confiture_path)\" = \"%s\"' ",
				node->path);
			if (!node->leaf)
				fprintf(f, "-a '%s'\n", w);
			else if (w[1] == '-')
				fprintf(f, "-l '%s'\n", w + 2);
			else
				fprintf(f, "-s '%s'\n", w + 1);
		}
	}
	fputs("complete -c confiture -n 'test \"(__confiture_path)\" = completion' -a 'bash zsh fish'\n",
	      f);
}

int
cmd_completion(int argc, const char **argv)
{
	const struct cli_option options[] = {OPT_END()};
	static const char *const synopsis[] = {
		"confiture completion bash|zsh|fish", NULL};
	const struct cli_usage usage = {
		synopsis,
		"Prints a completion script for the shell, generated from the\n"
		"command tables (commands, subcommands and their options):\n"
		"  source <(confiture completion bash)\n"
		"  confiture completion zsh > \"${fpath[1]}/_confiture\"\n"
		"  confiture completion fish > ~/.config/fish/completions/confiture.fish\n\n"
		"subcommands:\n"
		"  bash\n  zsh\n  fish",
		options};
	struct comp_tree t = {0};
	char *self;
	int npos, rc = cli_parse(argc, argv, &usage, &npos);
	int shell = -1;

	if (rc != CLI_PARSE_OK)
		return rc == CLI_PARSE_HELP ? CF_EXIT_OK : CF_EXIT_USAGE;
	for (int i = 0; npos == 1 && shells[i]; i++)
		if (strcmp(argv[0], shells[i]) == 0)
			shell = i;
	if (shell < 0) {
		if (npos)
			cli_error("unknown shell '%s'", argv[0]);
		else
			cli_error("missing shell");
		fprintf(stderr, "hint: confiture completion bash|zsh|fish\n");
		return CF_EXIT_USAGE;
	}
	/* argv[0], not /proc/self/exe, which is the wrapper under valgrind;
	 * popen() quotes it in '...' */
	self = strchr(cli_program, '/') ? realpath(cli_program, NULL) :
					  cli_asprintf("%s", cli_program);
	if (!self || strchr(self, '\'')) {
		cli_error("cannot run '%s' again to read its help",
			  cli_program);
		free(self);
		return CF_EXIT_USAGE;
	}
	build(self, &t, "");
	free(self);
	if (shell == 0)
		print_bash(stdout, &t);
	else if (shell == 1)
		print_zsh(stdout, &t);
	else
		print_fish(stdout, &t);
	for (size_t i = 0; i < t.n; i++) {
		for (size_t k = 0; k < t.nodes[i].n; k++)
			free(t.nodes[i].words[k]);
		free(t.nodes[i].words);
		free(t.nodes[i].path);
	}
	free(t.nodes);
	return CF_EXIT_OK;
}
