/* streamreg_status json|prometheus: the monitor's output, from the library. */
/* nginx headers first: they set _GNU_SOURCE and friends. */
#include "ngx_http_streamreg.h"

#include <stdlib.h>
#include <string.h>

ngx_int_t sr_ngx_status_handler(ngx_http_request_t *r)
{
	ngx_http_streamreg_loc_conf_t *lcf =
	    ngx_http_get_module_loc_conf(r, ngx_http_streamreg_module);
	ngx_int_t rc;
	if (sr_ngx_method_answered(r, &rc))
		return rc;
	const char *why;
	sr_registry *reg = sr_ngx_registry(&why);
	if (reg == NULL)
		return sr_ngx_reply_error(r, NGX_HTTP_SERVICE_UNAVAILABLE, why, 5);
	bool json = lcf->status == SR_NGX_STATUS_JSON;
	char *text = NULL;
	int err = json ? sr_registry_json(reg, &text) : sr_registry_prometheus(reg, &text);
	if (err < 0 || text == NULL) {
		char msg[SR_ERROR_MAX + 64];
		ngx_snprintf((u_char *)msg, sizeof msg - 1, "%s (%s)%Z", sr_strerror(err),
		             sr_errdetail());
		msg[sizeof msg - 1] = '\0';
		free(text);
		return sr_ngx_reply_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, msg, 0);
	}
	rc = sr_ngx_reply_body(
	    r, json ? "application/json" : "text/plain; version=0.0.4; charset=utf-8", "no-store",
	    text, strlen(text));
	free(text);
	return rc;
}
