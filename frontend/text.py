"""Every text the map pages show, Japanese first. Keys under "js" are handed to the page scripts as
``config.text``, so the JS holds no wording of its own."""

from __future__ import annotations

# Shown in both languages (page language first): staff may not have chosen the one they read best.
BASEMAP_OFFLINE_NOTICE = {
    "ja": "背景地図を表示できません（オフライン）",
    "en": "Basemap unavailable (offline)",
}
RESTRICTED_NOTICE = {
    "ja": "限定公開：閲覧は記録されます",
    "en": "Restricted: every view is audited",
}

TEXT: dict[str, dict] = {
    "ja": {
        "title": {"citizen": "公開型GIS 地図", "hq": "災害対策本部 地図", "gis": "統合型GIS"},
        "skip": "地図へ移動",
        "other_lang": {"code": "en", "label": "English"},
        "map_label": "地図",
        "loading": "読み込み中…",
        "js": {
            "layers": "レイヤー",
            "legend": "凡例",
            "layers_ready": "{n} 件のレイヤーを表示しています",
            "layers_error": "レイヤーを読み込めませんでした。時間をおいて再読み込みしてください。",
            "layer_failed": "（読み込み失敗）",
            "some_failed": "一部のレイヤーを読み込めませんでした",
            "units": "無線機 {n} 台",
            "gauges": "雨量計・水位計 {n} 基",
            "gauge_rain": "10分 {r10} mm ・ 60分 {r60} mm ・ 連続 {cont} mm",
            "gauge_level": "水位 {level} m",
            "gauge_states": {
                "online": "通信中",
                "silent": "途絶",
                "offline": "オフライン",
                "never": "未受信",
            },
            "last_update": "最終更新 {time}",
            "never": "—",
            "connecting": "接続しています…",
            "live": "接続中",
            "reconnecting": "再接続中",
            "units_error": "無線機の位置を取得できませんでした（{status}）",
            "login_required": "ログインが必要です",
            "locale": "ja-JP",
            # Offline basemap drawn from our own layers.
            "own_basemap": "背景：庁内データ（道路台帳など）",
            # Layer list and "my location" button.
            "show_layers": "レイヤー一覧",
            "locate": "現在地",
            "locating": "現在地を確認しています…",
            "located": "現在地を表示しました（誤差 約 {m} m）",
            "locate_denied": "位置情報の利用が許可されていません。端末の設定を確認してください。",
            "locate_unavailable": "現在地を取得できませんでした。",
            "locate_timeout": "現在地の取得に時間がかかっています。もう一度お試しください。",
            "locate_unsupported": "この端末では現在地を取得できません。",
            "my_location": "現在地",
            # 統合型GIS viewer.
            "gis_ready": "閲覧できるレイヤー {n} 件",
            "badge": {"public": "公開", "internal": "庁内", "restricted": "限定"},
            "visibility_group": {
                "public": "公開レイヤー",
                "internal": "庁内レイヤー",
                "restricted": "限定公開レイヤー",
            },
            "no_layers": "閲覧できるレイヤーはありません",
        },
    },
    "en": {
        "title": {"citizen": "Public GIS Map", "hq": "Disaster Response HQ Map", "gis": "Integrated GIS"},
        "skip": "Skip to map",
        "other_lang": {"code": "ja", "label": "日本語"},
        "map_label": "Map",
        "loading": "Loading…",
        "js": {
            "layers": "Layers",
            "legend": "Legend",
            "layers_ready": "{n} layers shown",
            "layers_error": "Could not load the layers. Please reload later.",
            "layer_failed": " (failed to load)",
            "some_failed": "Some layers could not be loaded",
            "units": "{n} radio units",
            "gauges": "{n} gauges",
            "gauge_rain": "10 min {r10} mm · 60 min {r60} mm · continuous {cont} mm",
            "gauge_level": "level {level} m",
            "gauge_states": {
                "online": "reporting",
                "silent": "silent",
                "offline": "offline",
                "never": "no data yet",
            },
            "last_update": "Last update {time}",
            "never": "—",
            "connecting": "Connecting…",
            "live": "Connected",
            "reconnecting": "Reconnecting",
            "units_error": "Could not load radio unit positions ({status})",
            "login_required": "Login required",
            "locale": "en-GB",
            "own_basemap": "Basemap: our own data (road ledger etc.)",
            "show_layers": "Layer list",
            "locate": "My location",
            "locating": "Finding your location…",
            "located": "Your location is shown (accuracy about {m} m)",
            "locate_denied": "Location access is not allowed. Please check your device settings.",
            "locate_unavailable": "Your location could not be determined.",
            "locate_timeout": "Finding your location is taking too long. Please try again.",
            "locate_unsupported": "This device cannot report its location.",
            "my_location": "My location",
            "gis_ready": "{n} layers available",
            "badge": {"public": "Public", "internal": "Internal", "restricted": "Restricted"},
            "visibility_group": {
                "public": "Public layers",
                "internal": "Internal layers",
                "restricted": "Restricted layers",
            },
            "no_layers": "No layers available",
        },
    },
}
