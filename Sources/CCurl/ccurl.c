#include "ccurl.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t global_init = PTHREAD_ONCE_INIT;

static void init_curl(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static size_t collect(char *data, size_t size, size_t count, void *context) {
    agentos_http_response *response = context;
    size_t length = size * count;
    if (length == 0) return 0;
    char *grown = realloc(response->body, response->body_length + length);
    if (grown == NULL) return 0; /* makes libcurl fail the transfer */
    memcpy(grown + response->body_length, data, length);
    response->body = grown;
    response->body_length += length;
    return length;
}

int agentos_http_request(const char *method, const char *url, const char *const *headers, size_t header_count,
                         const char *body, size_t body_length, long timeout_ms, agentos_http_response *response) {
    memset(response, 0, sizeof(*response));
    pthread_once(&global_init, init_curl);
    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        strncpy(response->error, "libcurl could not start", sizeof(response->error) - 1);
        return -1;
    }
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < header_count; i++) list = curl_slist_append(list, headers[i]);
    /* No "Expect: 100-continue" round trip for bodies. */
    list = curl_slist_append(list, "Expect:");

    char error[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? timeout_ms : 10000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, response);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_length);
    }
    CURLcode code = curl_easy_perform(curl);
    if (code == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response->status);
    } else {
        strncpy(response->error, error[0] ? error : curl_easy_strerror(code), sizeof(response->error) - 1);
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return code == CURLE_OK ? 0 : -1;
}

void agentos_http_response_free(agentos_http_response *response) {
    free(response->body);
    response->body = NULL;
    response->body_length = 0;
}
