/*
 * yaml2json: a YAML stream of documents on standard input (or in the
 * file named by the only argument), as one JSON array of documents on
 * standard output, so the Python tests can check the manifests with a
 * real YAML parser (libyaml) and the standard library's json module.
 *
 * Plain scalars are resolved as YAML 1.2's core schema has it (null,
 * booleans, decimal integers, everything else a string); quoted and
 * block scalars are strings.  Anchors, aliases, non-scalar keys and
 * a key repeated in one mapping are refused, as Kubernetes' strict
 * decoding refuses a repeated field; so is a plain scalar that YAML
 * 1.1, which kubectl reads, and YAML 1.2 read differently (yes, on,
 * 0755, 0x1f), so what the test sees is what the cluster gets.
 * On any error it prints "file:line: message" on standard error,
 * nothing on standard output, and exits 1.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

/* One open mapping or sequence: whether a comma is due, and the keys. */
struct frame {
	int		 mapping;
	int		 nitems;	/* values written, or keys seen */
	char		**keys;
	size_t		 nkeys;
	struct frame	*up;
};

static const char	*name = "<stdin>";
static FILE		*out;	/* the JSON, written out only when all is read */

static void __attribute__((__format__(printf, 2, 3), __noreturn__))
fail(size_t line, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s:%zu: ", name, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
put_string(const unsigned char *s, size_t n)
{
	size_t	 i;

	fputc('"', out);
	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			fprintf(out, "\\%c", s[i]);
		else if (s[i] == '\n')
			fputs("\\n", out);
		else if (s[i] == '\t')
			fputs("\\t", out);
		else if (s[i] < 0x20 || s[i] == 0x7f)
			fprintf(out, "\\u%04x", s[i]);
		else
			fputc(s[i], out);
	}
	fputc('"', out);
}

/* Decimal integers only: octal and hex are strings to Kubernetes too. */
static int
is_int(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Booleans or numbers in YAML 1.1 only, or numbers of another base. */
static int
is_ambiguous(const char *s)
{
	static const char *const words[] = { "y", "Y", "yes", "Yes", "YES",
	    "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF" };
	size_t	 i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(s, words[i]) == 0)
			return 1;
	if (*s == '-' || *s == '+')
		s++;
	return s[0] == '0' && s[1] != '\0' && strchr("0123456789xXoObB_",
	    s[1]) != NULL;
}

static void
put_scalar(const yaml_event_t *ev)
{
	const char	*v = (const char *)ev->data.scalar.value;
	size_t		 n = ev->data.scalar.length;

	if (!ev->data.scalar.plain_implicit || ev->data.scalar.tag != NULL) {
		put_string(ev->data.scalar.value, n);
		return;
	}
	if (strlen(v) != n)
		fail(ev->start_mark.line + 1, "a scalar holds a NUL byte");
	if (is_ambiguous(v))
		fail(ev->start_mark.line + 1, "\"%s\" means one thing to YAML "
		    "1.1 and another to YAML 1.2: quote it", v);
	if (n == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0)
		fputs("null", out);
	else if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 ||
	    strcmp(v, "TRUE") == 0)
		fputs("true", out);
	else if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 ||
	    strcmp(v, "FALSE") == 0)
		fputs("false", out);
	else if (is_int(v))
		fprintf(out, "%s", v + (*v == '+'));
	else
		put_string(ev->data.scalar.value, n);
}

static struct frame *
push(struct frame *up, int mapping)
{
	struct frame	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		perror("yaml2json");
		exit(1);
	}
	f->mapping = mapping;
	f->up = up;
	return f;
}

static struct frame *
pop(struct frame *f)
{
	struct frame	*up = f->up;
	size_t		 i;

	for (i = 0; i < f->nkeys; i++)
		free(f->keys[i]);
	free(f->keys);
	free(f);
	return up;
}

static void
add_key(struct frame *f, const yaml_event_t *ev)
{
	const char	*k = (const char *)ev->data.scalar.value;
	size_t		 i;

	for (i = 0; i < f->nkeys; i++)
		if (strcmp(f->keys[i], k) == 0)
			fail(ev->start_mark.line + 1, "key \"%s\" repeated in "
			    "one mapping", k);
	if ((f->keys = realloc(f->keys, (f->nkeys + 1) *
	    sizeof(*f->keys))) == NULL ||
	    (f->keys[f->nkeys] = strdup(k)) == NULL) {
		perror("yaml2json");
		exit(1);
	}
	f->nkeys++;
}

/*
 * Before a node: the comma or colon it needs; a key of a mapping must
 * be a scalar.  Returns whether the node is a key.
 */
static int
before_node(struct frame *f, const yaml_event_t *ev)
{
	int	 key;

	if (f == NULL)
		return 0;
	key = f->mapping && f->nitems % 2 == 0;
	if (key && ev->type != YAML_SCALAR_EVENT)
		fail(ev->start_mark.line + 1, "a mapping key that is not a "
		    "scalar");
	if (f->nitems > 0)
		fputc(key || !f->mapping ? ',' : ':', out);
	f->nitems++;
	return key;
}

int
main(int argc, char *argv[])
{
	yaml_parser_t	 parser;
	yaml_event_t	 ev;
	struct frame	*f = NULL;
	FILE		*in = stdin;
	char		*json = NULL;
	size_t		 jsonlen = 0;
	int		 done = 0, ndocs = 0, key;

	if (argc > 2) {
		fprintf(stderr, "usage: yaml2json [file]\n");
		return 2;
	}
	if (argc == 2) {
		name = argv[1];
		if ((in = fopen(name, "r")) == NULL) {
			fprintf(stderr, "%s: %s\n", name, strerror(errno));
			return 1;
		}
	}
	if (!yaml_parser_initialize(&parser)) {
		fprintf(stderr, "yaml2json: cannot initialise libyaml\n");
		return 1;
	}
	if ((out = open_memstream(&json, &jsonlen)) == NULL) {
		perror("yaml2json");
		return 1;
	}
	yaml_parser_set_input_file(&parser, in);
	fputc('[', out);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev))
			fail(parser.problem_mark.line + 1, "%s%s%s",
			    parser.problem ? parser.problem : "syntax error",
			    parser.context ? " " : "",
			    parser.context ? parser.context : "");
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (ndocs++ > 0)
				fputc(',', out);
			break;
		case YAML_ALIAS_EVENT:
			fail(ev.start_mark.line + 1, "aliases are not supported");
			break;
		case YAML_SCALAR_EVENT:
			if (ev.data.scalar.anchor != NULL)
				fail(ev.start_mark.line + 1, "anchors are not "
				    "supported");
			if ((key = before_node(f, &ev)))
				add_key(f, &ev);
			if (key)
				put_string(ev.data.scalar.value,
				    ev.data.scalar.length);
			else
				put_scalar(&ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if ((ev.type == YAML_SEQUENCE_START_EVENT ?
			    ev.data.sequence_start.anchor :
			    ev.data.mapping_start.anchor) != NULL)
				fail(ev.start_mark.line + 1, "anchors are not "
				    "supported");
			before_node(f, &ev);
			f = push(f, ev.type == YAML_MAPPING_START_EVENT);
			fputc(f->mapping ? '{' : '[', out);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			fputc(f->mapping ? '}' : ']', out);
			f = pop(f);
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	fputs("]\n", out);
	yaml_parser_delete(&parser);
	if (in != stdin)
		fclose(in);
	if (fclose(out) == EOF || fwrite(json, 1, jsonlen, stdout) != jsonlen ||
	    fflush(stdout) == EOF) {
		perror("yaml2json: standard output");
		return 1;
	}
	free(json);
	return 0;
}
