#include "server/rest/openapi.h"

namespace impulse::rest {

std::string_view OpenApiJson() {
  // Schemas are protobuf's JSON mapping of impulse.v1 (proto/impulse/v1/
  // jobs.proto): lowerCamelCase names, enums by name, 64-bit integers as
  // strings; answers include fields at their default values.
  static constexpr std::string_view kDocument = R"json({
  "openapi": "3.0.3",
  "info": {
    "title": "Impulse REST gateway",
    "version": "v1",
    "description": "Jobs API over HTTP/1.1 with protobuf's JSON mapping of impulse.v1 (proto/impulse/v1/jobs.proto). Errors are {\"error\":{\"code\",\"message\",\"field\"}}; 429 and 503 carry Retry-After."
  },
  "paths": {
    "/v1/jobs": {
      "post": {
        "summary": "Submit a job",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobSpec"}, "example": {"pi": {"samples": "1000000", "seed": "7"}}}}},
        "responses": {
          "200": {"description": "The queued job, with its id", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "409": {"$ref": "#/components/responses/Error"},
          "412": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "429": {"$ref": "#/components/responses/Error"}
        }
      },
      "get": {
        "summary": "List jobs, newest first",
        "parameters": [
          {"name": "state", "in": "query", "schema": {"$ref": "#/components/schemas/JobState"}},
          {"name": "label", "in": "query", "description": "key:value; repeat for several (all must match)", "schema": {"type": "array", "items": {"type": "string"}}, "style": "form", "explode": true},
          {"name": "page_size", "in": "query", "schema": {"type": "integer", "default": 50, "maximum": 1000}},
          {"name": "page_token", "in": "query", "description": "nextPageToken of the previous page", "schema": {"type": "string"}}
        ],
        "responses": {
          "200": {"description": "A page of jobs (without results)", "content": {"application/json": {"schema": {"type": "object", "properties": {"jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}, "nextPageToken": {"type": "string"}}}}}},
          "400": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/jobs:run": {
      "post": {
        "summary": "Submit a job and stream its events (Server-Sent Events) until it ends",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobSpec"}}}},
        "responses": {
          "200": {"$ref": "#/components/responses/EventStream"},
          "400": {"$ref": "#/components/responses/Error"},
          "429": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/jobs/{id}": {
      "parameters": [{"$ref": "#/components/parameters/JobId"}],
      "get": {
        "summary": "Get a job: state, progress, error, placement; the result inline when under 1 MiB",
        "responses": {
          "200": {"description": "The job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/jobs/{id}:cancel": {
      "parameters": [{"$ref": "#/components/parameters/JobId"}],
      "post": {
        "summary": "Cancel a queued or running job (a finished job is returned unchanged)",
        "responses": {
          "200": {"description": "The job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/jobs/{id}/result": {
      "parameters": [{"$ref": "#/components/parameters/JobId"}],
      "get": {
        "summary": "The whole result of a SUCCEEDED job (large results stream with chunked encoding)",
        "responses": {
          "200": {"description": "impulse.v1.JobResult", "content": {"application/json": {"schema": {"type": "object"}}}},
          "404": {"$ref": "#/components/responses/Error"},
          "412": {"description": "The job has not succeeded (yet)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        }
      }
    },
    "/v1/jobs/{id}/events": {
      "parameters": [
        {"$ref": "#/components/parameters/JobId"},
        {"name": "after_seq", "in": "query", "description": "only events with seq > after_seq", "schema": {"type": "integer", "format": "uint64"}},
        {"name": "Last-Event-ID", "in": "header", "description": "resume after this event (the larger of this and after_seq wins)", "schema": {"type": "integer", "format": "uint64"}}
      ],
      "get": {
        "summary": "Stream the job's events as Server-Sent Events, ending after the terminal event",
        "responses": {
          "200": {"$ref": "#/components/responses/EventStream"},
          "204": {"description": "The job has ended and the client already has its terminal event"},
          "400": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/healthz": {"get": {"summary": "The process is alive", "responses": {"200": {"description": "ok", "content": {"text/plain": {}}}}}},
    "/readyz": {"get": {"summary": "The server accepts work", "responses": {"200": {"description": "ready"}, "503": {"description": "draining or not ready; Retry-After is set"}}}},
    "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text/plain; version=0.0.4", "content": {"text/plain": {}}}}}},
    "/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3 document"}}}}
  },
  "components": {
    "parameters": {
      "JobId": {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "example": "j-0123456789abcdef"}
    },
    "responses": {
      "Error": {"description": "An error naming the offending field", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "EventStream": {"description": "text/event-stream: per event 'id: <seq>', 'event: state_changed|progress', 'data: <impulse.v1.JobEvent JSON>'; ': keep-alive' comments while idle", "content": {"text/event-stream": {"schema": {"type": "string"}}}}
    },
    "schemas": {
      "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string", "example": "INVALID_ARGUMENT"},
        "message": {"type": "string"},
        "field": {"type": "string", "example": "spec.pi.samples"}}}}},
      "JobState": {"type": "string", "enum": ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]},
      "Device": {"type": "string", "enum": ["AUTO", "CPU", "GPU"]},
      "JobSpec": {"type": "object", "description": "impulse.v1.JobSpec: exactly one of particles or pi", "properties": {
        "particles": {"type": "object", "properties": {
          "particles": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}, "angularVelocity": {"type": "number"}}}},
          "randomParticles": {"type": "integer"},
          "seed": {"type": "string", "format": "uint64"},
          "tEnd": {"type": "number"},
          "timestep": {"type": "number"},
          "snapshotEvery": {"type": "integer"}}},
        "pi": {"type": "object", "properties": {"samples": {"type": "string", "format": "uint64"}, "seed": {"type": "string", "format": "uint64"}}},
        "device": {"$ref": "#/components/schemas/Device"},
        "priority": {"type": "integer"},
        "idempotencyKey": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}}},
        "additionalProperties": false},
      "Job": {"type": "object", "description": "impulse.v1.Job", "properties": {
        "id": {"type": "string"},
        "state": {"$ref": "#/components/schemas/JobState"},
        "spec": {"$ref": "#/components/schemas/JobSpec"},
        "createTime": {"type": "string", "format": "date-time"},
        "startTime": {"type": "string", "format": "date-time"},
        "endTime": {"type": "string", "format": "date-time"},
        "progress": {"type": "number"},
        "error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
        "result": {"type": "object"},
        "resultBytes": {"type": "string", "format": "uint64"},
        "placedOn": {"$ref": "#/components/schemas/Device"},
        "lastSeq": {"type": "string", "format": "uint64"},
        "attempt": {"type": "integer"}}}
    }
  }
}
)json";
  return kDocument;
}

}  // namespace impulse::rest
