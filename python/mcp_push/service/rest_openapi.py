"""The OpenAPI 3.1 document of the REST endpoint (rest.py), served at /v1/openapi.json. Built from what
the server checks and answers, so it cannot drift: the envelope's rules from spec/envelope.schema.json,
the result from server.PushResult (the MCP tools' output schema)."""

from __future__ import annotations

import copy
import functools
from typing import Any

from .. import __version__
from ..events import envelope_schema
from .idempotency import KEEP_SECONDS

_REF = "#/components/schemas/{model}"

_CHANNELS = {"type": "array", "items": {"type": "string"}, "minItems": 1,
             "description": "Only these configured channels (ids such as ntfy, telegram); omit for all of them"}
_WAIT = {"type": "boolean", "default": False,
         "description": "Wait for the final per-channel results, as ?wait=true does"}
_TAGS = {"type": "array", "items": {"type": "string"},
         "description": "Tags for the routes of the server's routing config (mcp-push.yaml); ignored without one"}
_EVENT_ID = {"type": "string", "minLength": 1, "maxLength": 200,
             "description": "An idempotency key, as the Idempotency-Key header (equal to it when both are sent)"}


def _schema_of(model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = model.model_json_schema(ref_template=_REF)
    return schema, schema.pop("$defs", {})


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": _REF.format(model="Error")}}}}


def _post(summary: str, body: str, description: str) -> dict[str, Any]:
    result = {"content": {"application/json": {"schema": {"$ref": _REF.format(model="PushResult")}}}}
    return {
        "summary": summary, "description": description, "security": [{"bearerAuth": []}],
        "parameters": [
            {"name": "wait", "in": "query", "required": False, "schema": {"type": "boolean", "default": False},
             "description": "Answer with the final per-channel results (200) instead of once accepted (202); "
                            "bounded as the MCP tools' wait (about 50 s): what is not final by then is queued"},
            {"name": "Idempotency-Key", "in": "header", "required": False,
             "schema": {"type": "string", "minLength": 1, "maxLength": 200},
             "description": f"A key seen in the last {int(KEEP_SECONDS // 3600)} hours gets the first answer "
                            "again (same status and body, header Idempotent-Replayed: true) and nothing is sent"},
        ],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": _REF.format(model=body)}}}},
        "responses": {
            "200": {"description": "Final per-channel results (?wait=true)", **result},
            "202": {"description": "Accepted: per-channel results so far (queued: being delivered)", **result},
            "400": _error("The body breaks a rule; nothing was sent. error is '<field>: <rule>'"),
            "401": _error("No valid bearer token (MCP_PUSH_HTTP_TOKEN)"),
            "403": _error("An Origin that is not allowed (MCP_PUSH_HTTP_ORIGINS)"),
            "409": _error("The first request with this Idempotency-Key has no answer yet; nothing was sent again"),
            "413": _error("The body is over MCP_PUSH_HTTP_MAX_BODY bytes"),
            "415": _error("Not a JSON body (Content-Type: application/json, UTF-8)"),
            "421": _error("A Host that is not this server's name (MCP_PUSH_HTTP_HOSTS)"),
        },
    }


@functools.lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    from .server import PushResult

    result, defs = _schema_of(PushResult)
    envelope = copy.deepcopy(envelope_schema())
    event = {
        "type": "object", "required": envelope["required"], "additionalProperties": False,
        "description": "The event envelope (spec/envelope.schema.json) and how to deliver it",
        "properties": {**envelope["properties"], "channels": _CHANNELS, "wait": _WAIT, "event_id": _EVENT_ID,
                       "tags": _TAGS},
    }
    message = {
        "type": "object", "required": ["title", "content"], "additionalProperties": False,
        "properties": {"title": {"type": "string", "description": "Short headline"},
                       "content": {"type": "string", "description": "The message body (plain text, or "
                                                                    "Markdown with format markdown)"},
                       "format": {"type": "string", "enum": ["text", "markdown"], "default": "text",
                                  "description": "text, or markdown: CommonMark converted for each channel"},
                       "channels": _CHANNELS, "wait": _WAIT, "event_id": _EVENT_ID, "tags": _TAGS},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "mcp-push REST API", "version": __version__,
                 "description": "Push notifications through the channels this server is configured with: "
                                "the same checks, engine and results as its MCP tools notify_event and "
                                "notify_send."},
        "paths": {
            "/v1/events": {"post": _post("Report a run event", "Event",
                                         "An event of a run (start, update, end, error), rendered as notify_event "
                                         "renders it and pushed to the configured channels.")},
            "/v1/messages": {"post": _post("Send a message", "Message",
                                           "A title and content pushed to the configured channels, as "
                                           "notify_send does.")},
            "/v1/openapi.json": {"get": {"summary": "This document", "security": [{"bearerAuth": []}],
                                         "responses": {"200": {"description": "OpenAPI 3.1",
                                                               "content": {"application/json": {}}}}}},
        },
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "MCP_PUSH_HTTP_TOKEN; needed when the server has one (always off loopback)"}},
            "schemas": {
                "Event": event, "Message": message, "PushResult": result, **defs,
                "Error": {"type": "object", "required": ["error"],
                          "properties": {"error": {"type": "string", "description": "'<field>: <rule>'"}}},
            },
        },
    }
