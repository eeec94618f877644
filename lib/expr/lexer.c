/* The lexer: text into tokens, each with the line and column where it starts. */
#include "expr.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lexer_start(struct lexer *lexer, const char *text, size_t length)
{
    *lexer = (struct lexer){text, length, 0, {1, 1}};
}

static int peek(const struct lexer *lexer, size_t ahead)
{
    size_t at = lexer->at + ahead;
    return at < lexer->length ? (unsigned char)lexer->text[at] : '\0';
}

static void advance(struct lexer *lexer, size_t count)
{
    for (size_t i = 0; i < count && lexer->at < lexer->length; ++i) {
        if (lexer->text[lexer->at++] == '\n') {
            lexer->position.line++;
            lexer->position.column = 1;
        } else {
            lexer->position.column++;
        }
    }
}

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* ASCII letters only, whatever the locale. */
static bool is_name_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(int c)
{
    return is_name_start(c) || is_digit(c);
}

/* The token's text: `length` bytes from the lexer's position, cut to fit. */
static void token_text(struct token *token, const struct lexer *lexer, size_t length)
{
    token->cut = length > EXPR_MAX_NAME;
    size_t kept = token->cut ? EXPR_MAX_NAME : length;
    memcpy(token->text, lexer->text + lexer->at, kept);
    token->text[kept] = '\0';
}

/* The text as a message shows it: '…' quoted, "..." where it was cut. */
static const char *shown(const struct token *token)
{
    return token->cut ? "..." : "";
}

static size_t digits(const struct lexer *lexer, size_t from)
{
    size_t n = 0;
    while (is_digit(peek(lexer, from + n)))
        ++n;
    return n;
}

/* strtof in the C locale, whatever locale the program set: the language's decimal
 * point is always '.'. */
static float parse_float(const char *text, bool *range_error)
{
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t previous = c_locale != (locale_t)0 ? uselocale(c_locale) : (locale_t)0;
    errno = 0;
    float value = strtof(text, NULL);
    *range_error = errno == ERANGE && isinf(value);
    if (c_locale != (locale_t)0) {
        uselocale(previous);
        freelocale(c_locale);
    }
    return value;
}

/* digits [. digits] [e [+-] digits], or . digits ...; not followed by a name or dot. */
static bool lex_number(struct lexer *lexer, struct token *token, struct expr_error *error)
{
    size_t length = digits(lexer, 0);
    bool integer = true, malformed = false;
    if (peek(lexer, length) == '.') {
        integer = false;
        length += 1 + digits(lexer, length + 1);
    }
    int e = peek(lexer, length);
    if (e == 'e' || e == 'E') {
        integer = false;
        size_t sign = peek(lexer, length + 1) == '+' || peek(lexer, length + 1) == '-';
        size_t exponent = digits(lexer, length + 1 + sign);
        malformed = exponent == 0;
        length += 1 + sign + exponent;
    }
    size_t end = length;
    while (is_name_char(peek(lexer, end)) || peek(lexer, end) == '.')
        ++end;
    token_text(token, lexer, end);
    if (malformed || end != length)
        return expr_fail(error, token->at, "malformed number '%s%s'", token->text,
                         shown(token));
    char *copy = malloc(length + 1);
    if (copy == NULL)
        return expr_out_of_memory(error);
    memcpy(copy, lexer->text + lexer->at, length);
    copy[length] = '\0';
    bool range_error;
    token->value = parse_float(copy, &range_error);
    free(copy);
    if (range_error)
        return expr_fail(error, token->at, "number '%s%s' is beyond float's range",
                         token->text, shown(token));
    token->kind = TOKEN_NUMBER;
    token->integer = integer;
    advance(lexer, length);
    return true;
}

static bool lex_name(struct lexer *lexer, struct token *token, struct expr_error *error)
{
    size_t length = 1;
    while (is_name_char(peek(lexer, length)))
        ++length;
    token_text(token, lexer, length);
    if (token->cut)
        return expr_fail(error, token->at, "name '%s...' is longer than %d characters",
                         token->text, EXPR_MAX_NAME);
    token->kind = TOKEN_NAME;
    advance(lexer, length);
    return true;
}

static const struct {
    char text[3];
    enum token_kind kind;
} operators[] = {
    /* two-character operators first */
    {"<=", TOKEN_LESS_EQUAL}, {">=", TOKEN_GREATER_EQUAL}, {"==", TOKEN_EQUAL_EQUAL},
    {"!=", TOKEN_NOT_EQUAL},  {"+", TOKEN_PLUS},           {"-", TOKEN_MINUS},
    {"*", TOKEN_STAR},        {"/", TOKEN_SLASH},          {"^", TOKEN_CARET},
    {"<", TOKEN_LESS},        {">", TOKEN_GREATER},        {"=", TOKEN_ASSIGN},
    {"?", TOKEN_QUESTION},    {":", TOKEN_COLON},          {"(", TOKEN_OPEN},
    {")", TOKEN_CLOSE},       {",", TOKEN_COMMA},          {";", TOKEN_SEMICOLON},
};

static bool lex_operator(struct lexer *lexer, struct token *token, struct expr_error *error)
{
    for (size_t i = 0; i < sizeof(operators) / sizeof(operators[0]); ++i) {
        size_t length = strlen(operators[i].text);
        if (peek(lexer, 0) == operators[i].text[0] &&
            (length == 1 || peek(lexer, 1) == operators[i].text[1])) {
            token_text(token, lexer, length);
            token->kind = operators[i].kind;
            advance(lexer, length);
            return true;
        }
    }
    int c = peek(lexer, 0);
    if (c >= ' ' && c < 127)
        return expr_fail(error, token->at, "unexpected character '%c'", c);
    return expr_fail(error, token->at, "unexpected byte 0x%02x", (unsigned)c);
}

bool lexer_next(struct lexer *lexer, struct token *token, struct expr_error *error)
{
    while (is_space(peek(lexer, 0)))
        advance(lexer, 1);
    *token = (struct token){.at = lexer->position};
    int c = peek(lexer, 0);
    if (c == '\0') {
        token->kind = TOKEN_END;
        return true;
    }
    if (is_digit(c) || (c == '.' && is_digit(peek(lexer, 1))))
        return lex_number(lexer, token, error);
    if (is_name_start(c))
        return lex_name(lexer, token, error);
    return lex_operator(lexer, token, error);
}

const char *token_kind_name(enum token_kind kind)
{
    switch (kind) {
    case TOKEN_END: return "the end";
    case TOKEN_NUMBER: return "a number";
    case TOKEN_NAME: return "a name";
    case TOKEN_ASSIGN: return "'='";
    case TOKEN_COLON: return "':'";
    case TOKEN_OPEN: return "'('";
    case TOKEN_CLOSE: return "')'";
    case TOKEN_COMMA: return "','";
    default: return "an operator";
    }
}
