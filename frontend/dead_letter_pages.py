"""The dead-letter screen for HQ and admin (/hq/dead-letters): what the ingest worker refused, why,
and from which device; counts per reason for the last hour and day; marking letters as reviewed.

Japanese first (English with ?lang=en). Autoescaping Jinja writes everything, including the payloads
(device input: shown as text, never as markup). No script at all: filters are a GET form, the review
is a POST form answered with a redirect back to the same view. Styles in static/css/dead_letters.css.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2

from frontend.pages import assert_self_hosted, static_url

JST = ZoneInfo("Asia/Tokyo")

# reason code -> (ja, en); the codes are the ingest worker's (docs/mqtt.md)
REASONS: dict[str, tuple[str, str]] = {
    "invalid_json": ("JSON ではない", "Not JSON"),
    "invalid_payload": ("項目の不足・型や範囲の誤り", "Field missing, of the wrong type or out of range"),
    "invalid_timestamp": ("時刻が読めない・未来の時刻", "Timestamp unreadable or in the future"),
    "unsupported_type": ("位置ではない OwnTracks メッセージ", "OwnTracks message that is not a location"),
    "payload_too_large": ("大きすぎる（64 KiB 超）", "Too large (over 64 KiB)"),
    "empty": ("空の配列", "Empty array"),
    "unknown_device": ("未登録の機器", "Device not registered"),
    "unknown_topic": ("処理できないトピック", "Topic with no handler"),
    "unknown_category": ("未登録の災害種別", "Unknown incident category"),
    "wrong_kind": ("機器の種類が違う", "Device of another kind"),
    "retained": ("保持メッセージ（古いメッセージ）", "Retained (old) message"),
    "db_rejected": ("データベースが拒否", "Refused by the database"),
}

TEXT: dict[str, dict[str, Any]] = {
    "ja": {
        "title": "デッドレター（受信できなかった機器メッセージ）",
        "skip": "本文へ移動",
        "other_lang": ("en", "English"),
        "intro": "無線機・雨量計・水位計から届いたが保存できなかったメッセージです。"
        "ペイロードには位置情報が含まれることがあります。取扱いに注意してください。",
        "counts_caption": "理由別の件数（直近 1 時間・24 時間）",
        "reason": "理由",
        "code": "コード",
        "last_hour": "1 時間",
        "last_24h": "24 時間",
        "unreviewed_24h": "未確認（24 時間）",
        "no_counts": "直近 24 時間のデッドレターはありません。",
        "filters": "絞り込み",
        "device": "機器 ID",
        "any_reason": "すべての理由",
        "unreviewed_only": "未確認のものだけ",
        "apply": "表示",
        "list_caption": "デッドレター（新しい順・最大 {n} 件）",
        "select": "選択",
        "select_one": "#{id} を選択",
        "received": "受信日時",
        "topic": "トピック",
        "detail": "詳細",
        "size": "サイズ",
        "payload": "ペイロード（先頭）",
        "reviewed": "確認",
        "not_reviewed": "未確認",
        "reviewed_by": "{time} {who}",
        "bytes": "{n} バイト",
        "cut": "（以下省略）",
        "none": "該当するデッドレターはありません。",
        "mark": "選択したものを確認済みにする",
        "marked": "{n} 件を確認済みにしました。",
        "pages": "ページ",
        "older": "さらに古いものを表示",
        "newest": "最新に戻る",
    },
    "en": {
        "title": "Dead letters (device messages that could not be stored)",
        "skip": "Skip to content",
        "other_lang": ("ja", "日本語"),
        "intro": "Messages from radio units and gauges that arrived but could not be stored. Payloads may "
        "hold positions: handle them with care.",
        "counts_caption": "Counts per reason (last hour, last 24 hours)",
        "reason": "Reason",
        "code": "Code",
        "last_hour": "1 hour",
        "last_24h": "24 hours",
        "unreviewed_24h": "Not reviewed (24 hours)",
        "no_counts": "No dead letters in the last 24 hours.",
        "filters": "Filter",
        "device": "Device id",
        "any_reason": "Any reason",
        "unreviewed_only": "Only those not reviewed",
        "apply": "Show",
        "list_caption": "Dead letters (newest first, up to {n})",
        "select": "Select",
        "select_one": "Select #{id}",
        "received": "Received",
        "topic": "Topic",
        "detail": "Detail",
        "size": "Size",
        "payload": "Payload (start)",
        "reviewed": "Review",
        "not_reviewed": "Not reviewed",
        "reviewed_by": "{time} {who}",
        "bytes": "{n} bytes",
        "cut": "(cut)",
        "none": "No dead letters match.",
        "mark": "Mark the selected ones as reviewed",
        "marked": "{n} marked as reviewed.",
        "pages": "Pages",
        "older": "Show older ones",
        "newest": "Back to the newest",
    },
}

_PAGE = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{{ t.title }}</title>
<link rel="stylesheet" href="{{ css }}">
</head>
<body class="dl-page">
<a class="dl-skip" href="#dl-main">{{ t.skip }}</a>
<header class="dl-header">
  <h1>{{ t.title }}</h1>
  <a href="?{{ other_query }}" hreflang="{{ t.other_lang[0] }}" lang="{{ t.other_lang[0] }}">{{ t.other_lang[1] }}</a>
</header>
<main id="dl-main" tabindex="-1">
<p>{{ t.intro }}</p>
{% if error %}
<p class="dl-error" role="alert">{{ error[0] if lang == "ja" else error[1] }}</p>
{% endif %}
{% if marked is not none %}
<p class="dl-result" role="status">{{ t.marked.format(n=marked) }}</p>
{% endif %}
<table class="dl-table dl-counts">
  <caption>{{ t.counts_caption }}</caption>
  <thead><tr>
    <th scope="col">{{ t.reason }}</th><th scope="col">{{ t.code }}</th>
    <th scope="col" class="dl-num">{{ t.last_hour }}</th><th scope="col" class="dl-num">{{ t.last_24h }}</th>
    <th scope="col" class="dl-num">{{ t.unreviewed_24h }}</th>
  </tr></thead>
  <tbody>
  {% for c in counts %}
    <tr><th scope="row">{{ reason_label(c.reason_code) }}</th><td><code>{{ c.reason_code }}</code></td>
      <td class="dl-num">{{ c.last_hour }}</td><td class="dl-num">{{ c.last_24h }}</td>
      <td class="dl-num">{{ c.unreviewed_24h }}</td></tr>
  {% else %}
    <tr><td colspan="5">{{ t.no_counts }}</td></tr>
  {% endfor %}
  </tbody>
</table>

<form class="dl-filters" method="get" action="/hq/dead-letters">
  <fieldset>
    <legend>{{ t.filters }}</legend>
    <label for="dl-device">{{ t.device }}</label>
    <input id="dl-device" name="device" value="{{ filters.device or '' }}" maxlength="64" pattern="[A-Za-z0-9][A-Za-z0-9_\\-]{0,63}">
    <label for="dl-reason">{{ t.reason }}</label>
    <select id="dl-reason" name="reason">
      <option value="">{{ t.any_reason }}</option>
    {% for code in reason_codes %}
      <option value="{{ code }}"{% if code == filters.reason %} selected{% endif %}>{{ reason_label(code) }} ({{ code }})</option>
    {% endfor %}
    </select>
    <input type="checkbox" id="dl-unreviewed" name="unreviewed" value="true"{% if filters.unreviewed %} checked{% endif %}>
    <label for="dl-unreviewed">{{ t.unreviewed_only }}</label>
    <input type="hidden" name="lang" value="{{ lang }}">
    <button type="submit">{{ t.apply }}</button>
  </fieldset>
</form>

<form method="post" action="/hq/dead-letters/review">
{% for name, value in keep %}
  <input type="hidden" name="{{ name }}" value="{{ value }}">
{% endfor %}
<table class="dl-table dl-letters">
  <caption>{{ t.list_caption.format(n=limit) }}</caption>
  <thead><tr>
    <th scope="col">{{ t.select }}</th><th scope="col">#</th><th scope="col">{{ t.received }}</th>
    <th scope="col">{{ t.device }}</th><th scope="col">{{ t.topic }}</th><th scope="col">{{ t.reason }}</th>
    <th scope="col">{{ t.detail }}</th><th scope="col" class="dl-num">{{ t.size }}</th>
    <th scope="col">{{ t.payload }}</th><th scope="col">{{ t.reviewed }}</th>
  </tr></thead>
  <tbody>
  {% for d in letters %}
    <tr{% if d.reviewed_at %} class="dl-done"{% endif %}>
      <td>{% if not d.reviewed_at %}<input type="checkbox" name="ids" value="{{ d.id }}" aria-label="{{ t.select_one.format(id=d.id) }}">{% endif %}</td>
      <th scope="row">{{ d.id }}</th>
      <td><time datetime="{{ d.received_at.isoformat() }}">{{ when(d.received_at) }}</time></td>
      <td>{{ d.device_id or '' }}</td>
      <td class="dl-wrap">{{ d.topic }}</td>
      <td>{{ reason_label(d.reason_code) }} <code>{{ d.reason_code }}</code></td>
      <td class="dl-wrap">{{ d.reason }}</td>
      <td class="dl-num">{{ t.bytes.format(n=d.payload_size) }}</td>
      <td class="dl-wrap"><code>{{ d.payload_text }}</code>{% if d.truncated %} {{ t.cut }}{% endif %}</td>
      <td>{% if d.reviewed_at %}{{ t.reviewed_by.format(time=when(d.reviewed_at), who=d.reviewed_by) }}{% else %}{{ t.not_reviewed }}{% endif %}</td>
    </tr>
  {% else %}
    <tr><td colspan="10">{{ t.none }}</td></tr>
  {% endfor %}
  </tbody>
</table>
{% if letters %}
<button type="submit">{{ t.mark }}</button>
{% endif %}
</form>
<nav class="dl-pages" aria-label="{{ t.pages }}">
{% if before %}<a href="?{{ newest_query }}">{{ t.newest }}</a>{% endif %}
{% if older_query %}<a href="?{{ older_query }}">{{ t.older }}</a>{% endif %}
</nav>
</main>
</body>
</html>
"""
)


def _query(lang: str, filters: dict[str, Any], **extra: Any) -> str:
    values = {k: v for k, v in filters.items() if v not in (None, "", False)}
    values.update({k: v for k, v in extra.items() if v is not None})
    values["lang"] = lang
    return urlencode({k: "true" if v is True else v for k, v in values.items()})


def dead_letters_html(
    lang: str,
    letters: list[dict[str, Any]],
    counts: list[dict[str, Any]],
    filters: dict[str, Any],
    *,
    limit: int,
    before: int | None = None,
    marked: int | None = None,
    error: tuple[str, str] | None = None,
) -> str:
    """``filters``: device, reason, unreviewed (as given); ``letters`` newest first; ``error``: why
    the filters were refused (ja, en)."""
    lang = lang if lang in TEXT else "ja"
    t = TEXT[lang]

    def reason_label(code: str) -> str:
        labels = REASONS.get(code)
        return (labels[0] if lang == "ja" else labels[1]) if labels else code

    def when(value: datetime) -> str:
        local = value.astimezone(JST)
        return local.strftime("%Y-%m-%d %H:%M:%S") + ("" if lang == "ja" else " JST")

    older = letters[-1]["id"] if len(letters) == limit else None
    html = _PAGE.render(
        lang=lang,
        t=t,
        css=static_url("css/dead_letters.css"),
        counts=counts,
        letters=letters,
        filters=filters,
        limit=limit,
        before=before,
        marked=marked,
        reason_codes=list(REASONS),
        reason_label=reason_label,
        when=when,
        keep=[
            (k, "true" if v is True else v)
            for k, v in (*filters.items(), ("lang", lang))
            if v not in (None, "", False)
        ],
        error=error,
        other_query=_query(t["other_lang"][0], filters, before=before),
        newest_query=_query(lang, filters),
        older_query=_query(lang, filters, before=older) if older else None,
    )
    assert_self_hosted(html)
    return html
