#ifndef AGENTOS_CCURL_H
#define AGENTOS_CCURL_H

#include <stddef.h>

/// The answer to one HTTP request; free it with agentos_http_response_free.
typedef struct {
    long status;          /* HTTP status, 0 when no answer came */
    char *body;           /* response body (not NUL-terminated), malloc'ed */
    size_t body_length;
    char error[256];      /* libcurl's reason when status is 0 */
} agentos_http_response;

/// Performs one blocking HTTP request with libcurl: `method` to `url` with `header_count`
/// "Name: value" headers and an optional body, giving up after `timeout_ms`.
/// Returns 0 when an answer (of any status) arrived, -1 otherwise (see `error`).
int agentos_http_request(const char *method, const char *url, const char *const *headers, size_t header_count,
                         const char *body, size_t body_length, long timeout_ms, agentos_http_response *response);

/// Releases what a response holds.
void agentos_http_response_free(agentos_http_response *response);

#endif
