# Sourced by the benchmark scripts: redact_secrets TEXT... prints TEXT with the passwords of
# URL-style DSNs (scheme://user:PASSWORD@host) and key=value DSNs (password=PASSWORD) masked,
# so progress and error lines can show the commands they ran.
redact_secrets() {
  printf '%s\n' "$*" | sed -E \
    -e 's#(://[^:/@[:space:]]*:)[^@[:space:]]*@#\1***@#g' \
    -e 's#(password=)[^[:space:]&]*#\1***#gI'
}
