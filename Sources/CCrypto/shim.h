// OpenSSL libcrypto (libssl-dev): SHA-256 for content digests, using the CPU's SHA extensions where present.
#include <openssl/evp.h>
