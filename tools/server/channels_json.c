#include "channels_json.h"

#include <stdint.h>

#include "strbuf.h"

static void channel_json(struct strbuf *b, sr_registry *reg, const struct viewer_table *vt,
                         const struct st_channel *ch)
{
	char id[SR_UUID_STR_LEN + 1];
	sr_uuid_format(ch->id, id);
	sr_session_info info;
	int rc = sr_session_snapshot(reg, ch->id, &info);
	strbuf_puts(b, "{\"id\":");
	strbuf_json_string(b, id);
	strbuf_puts(b, ",\"name\":");
	strbuf_json_string(b, ch->name);
	strbuf_printf(b, ",\"master\":\"/channels/%s/master.m3u8\"", id);
	if (rc == 0) {
		strbuf_puts(b, ",\"state\":");
		strbuf_json_string(b, sr_state_name(info.state));
		strbuf_printf(b, ",\"clients\":%u,\"pid\":%d,\"idle_ms\":%llu,\"error_count\":%u",
		              info.clients, (int)info.pid, (unsigned long long)info.idle_ms,
		              info.error_count);
		strbuf_puts(b, ",\"last_error\":");
		strbuf_json_string(b, info.last_error);
		strbuf_puts(b, ",\"variants\":[");
		for (uint32_t i = 0; i < info.n_qualities && i < SR_MAX_QUALITIES; i++) {
			const sr_quality *q = &info.qualities[i];
			strbuf_puts(b, i ? ",{\"level\":" : "{\"level\":");
			strbuf_json_string(b, q->level);
			strbuf_printf(b, ",\"bitrate_kbps\":%u,\"width\":%u,\"height\":%u}",
			              q->bitrate_kbps, q->width, q->height);
		}
		strbuf_puts(b, "]");
	} else {
		/* Nobody asked for it yet: no session in the registry. */
		strbuf_puts(b, ",\"state\":\"idle\",\"clients\":0,\"pid\":0,\"idle_ms\":null,"
		               "\"error_count\":0,\"last_error\":\"\",\"variants\":[]");
	}
	strbuf_printf(b, ",\"viewers\":%u}", vt ? viewers_count(vt, ch->id) : 0);
}

char *channels_json(sr_registry *reg, const struct viewer_table *vt, const struct st_lineup *lineup,
                    size_t *len)
{
	struct strbuf b = {0};
	strbuf_puts(&b, "[");
	for (size_t i = 0; i < lineup->n; i++) {
		if (i)
			strbuf_puts(&b, ",\n");
		channel_json(&b, reg, vt, &lineup->ch[lineup->order[i]]);
	}
	strbuf_puts(&b, "]\n");
	return strbuf_take(&b, len);
}
