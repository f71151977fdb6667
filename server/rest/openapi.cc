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
          "429": {"$ref": "#/components/responses/Error"},
          "503": {"description": "Draining, or the journal cannot keep new jobs (see /readyz); Retry-After is set", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
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
      },
      "delete": {
        "summary": "Delete a finished job at once: its record, events, result (and result files) and journal row; its idempotency key may be used again. Finished jobs also expire on their own (impulsed --retention, --retention_max_jobs)",
        "responses": {
          "200": {"description": "The deleted job as it was (without its result)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
          "404": {"$ref": "#/components/responses/Error"},
          "412": {"description": "The job is QUEUED or RUNNING: cancel it first, then delete it once it has ended", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
          "503": {"description": "The journal cannot delete it (nothing changed); Retry-After is set", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
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
    "/v1/datasets": {
      "get": {
        "summary": "List datasets, by name",
        "responses": {
          "200": {"description": "impulse.v1.ListDatasetsResponse", "content": {"application/json": {"schema": {"type": "object", "properties": {"datasets": {"type": "array", "items": {"$ref": "#/components/schemas/Dataset"}}}}}}},
          "412": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/datasets/{name}": {
      "parameters": [{"name": "name", "in": "path", "required": true, "description": "1..128 characters from A-Z a-z 0-9 . _ -", "schema": {"type": "string"}}],
      "put": {
        "summary": "Upload a dataset: the request body is its content, streamed to disk (up to --max_dataset_bytes); content-addressed by SHA-256. The same content again is a no-op; other content under a taken name is 409",
        "parameters": [
          {"name": "format", "in": "query", "required": true, "schema": {"type": "string", "enum": ["text", "csv", "points_f64", "points_csv"]}},
          {"name": "dims", "in": "query", "description": "points_f64: coordinates per point (required); points_csv: 0 = the number of columns", "schema": {"type": "integer"}},
          {"name": "sha256", "in": "query", "description": "hex digest the content must have", "schema": {"type": "string"}}
        ],
        "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
        "responses": {
          "200": {"description": "The stored dataset", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Dataset"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "409": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"}
        }
      },
      "get": {
        "summary": "One dataset's metadata",
        "responses": {
          "200": {"description": "The dataset", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Dataset"}}}},
          "404": {"$ref": "#/components/responses/Error"}
        }
      },
      "delete": {
        "summary": "Delete a dataset (412 while a queued or running job uses it)",
        "responses": {
          "200": {"description": "The deleted dataset", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Dataset"}}}},
          "404": {"$ref": "#/components/responses/Error"},
          "412": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/indexes/{name}:query": {
      "parameters": [{"$ref": "#/components/parameters/IndexName"}],
      "get": {
        "summary": "Boolean query over an index built by an index job: terms, AND (or juxtaposition), OR, NOT, parentheses; hits ranked by term frequency",
        "parameters": [
          {"name": "q", "in": "query", "required": true, "schema": {"type": "string"}, "example": "apple AND (banana OR cherry) AND NOT durian"},
          {"name": "offset", "in": "query", "schema": {"type": "integer", "default": 0}},
          {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 10, "maximum": 1000}}
        ],
        "responses": {
          "200": {"description": "impulse.v1.QueryResponse: totalMatches and hits [{doc, score}]", "content": {"application/json": {"schema": {"type": "object"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/indexes/{name}:complete": {
      "parameters": [{"$ref": "#/components/parameters/IndexName"}],
      "get": {
        "summary": "Prefix autocomplete over an index's vocabulary: the n most frequent words starting with prefix",
        "parameters": [
          {"name": "prefix", "in": "query", "schema": {"type": "string"}},
          {"name": "n", "in": "query", "schema": {"type": "integer", "default": 10, "maximum": 1000}}
        ],
        "responses": {
          "200": {"description": "impulse.v1.CompleteResponse: completions [{word, count}]", "content": {"application/json": {"schema": {"type": "object"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/metrics/stream": {
      "get": {
        "summary": "The live system monitor as Server-Sent Events: CPU load per core, memory, GPU, queue depth, jobs/s, with this stream's moving average and high-load alert",
        "parameters": [
          {"name": "interval_ms", "in": "query", "schema": {"type": "integer", "default": 100, "minimum": 50}},
          {"name": "window", "in": "query", "description": "samples in the moving average", "schema": {"type": "integer", "default": 10}},
          {"name": "alert_threshold", "in": "query", "description": "average total CPU load 0..1", "schema": {"type": "number", "default": 0.9}},
          {"name": "alert_after_ms", "in": "query", "description": "the load must stay above the threshold this long", "schema": {"type": "integer", "default": 5000}}
        ],
        "responses": {
          "200": {"description": "text/event-stream: per sample 'id: <seq>', 'event: sample', 'data: <impulse.v1.MetricsSample JSON>'", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
          "400": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/healthz": {"get": {"summary": "The process is alive", "responses": {"200": {"description": "ok", "content": {"text/plain": {}}}}}},
    "/readyz": {"get": {"summary": "The server accepts work", "responses": {"200": {"description": "ready"}, "503": {"description": "draining, or the journal failed (the server refuses new work); Retry-After is set"}}}},
    "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text/plain; version=0.0.4", "content": {"text/plain": {}}}}}},
    "/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3 document"}}}}
  },
  "components": {
    "parameters": {
      "JobId": {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "example": "j-0123456789abcdef"},
      "IndexName": {"name": "name", "in": "path", "required": true, "description": "the index_name of the index job that built it", "schema": {"type": "string"}}
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
      "JobSpec": {"type": "object", "description": "impulse.v1.JobSpec: exactly one kind (particles, pi, distanceMatrix, knn, wordcount, index, table; see jobs.proto for the fields of the analytics kinds)", "properties": {
        "particles": {"type": "object", "properties": {
          "particles": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}, "angularVelocity": {"type": "number"}}}},
          "randomParticles": {"type": "integer"},
          "seed": {"type": "string", "format": "uint64"},
          "tEnd": {"type": "number"},
          "timestep": {"type": "number"},
          "snapshotEvery": {"type": "integer"}}},
        "pi": {"type": "object", "properties": {"samples": {"type": "string", "format": "uint64"}, "seed": {"type": "string", "format": "uint64"}}},
        "distanceMatrix": {"type": "object", "example": {"dataset": "points"}},
        "knn": {"type": "object", "example": {"dataset": "points", "k": 10}},
        "wordcount": {"type": "object", "example": {"dataset": "corpus", "topK": 20}},
        "index": {"type": "object", "example": {"dataset": "corpus", "indexName": "corpus"}},
        "table": {"type": "object"},
        "device": {"$ref": "#/components/schemas/Device"},
        "priority": {"type": "integer"},
        "idempotencyKey": {"type": "string", "description": "a retried submit with the same key (and spec) returns the same job, also after a restart; another spec with it is 409"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "noCache": {"type": "boolean"},
        "timeout": {"type": "string", "format": "google.protobuf.Duration", "example": "90s", "description": "longest the job may run, counted from RUNNING (queued time does not count); then it ends FAILED with error.code DEADLINE_EXCEEDED. Unset or \"0s\": no limit"}},
        "additionalProperties": false},
      "Dataset": {"type": "object", "description": "impulse.v1.Dataset", "properties": {
        "name": {"type": "string"},
        "format": {"type": "string", "enum": ["TEXT", "CSV", "POINTS_F64", "POINTS_CSV"]},
        "dims": {"type": "integer"},
        "sha256": {"type": "string"},
        "sizeBytes": {"type": "string", "format": "uint64"},
        "rows": {"type": "string", "format": "uint64"},
        "columns": {"type": "array", "items": {"type": "string"}},
        "createTime": {"type": "string", "format": "date-time"}}},
      "Job": {"type": "object", "description": "impulse.v1.Job", "properties": {
        "id": {"type": "string"},
        "state": {"$ref": "#/components/schemas/JobState"},
        "spec": {"$ref": "#/components/schemas/JobSpec"},
        "createTime": {"type": "string", "format": "date-time"},
        "startTime": {"type": "string", "format": "date-time"},
        "endTime": {"type": "string", "format": "date-time"},
        "progress": {"type": "number"},
        "error": {"type": "object", "properties": {"code": {"type": "string", "example": "DEADLINE_EXCEEDED"}, "message": {"type": "string"}}},
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
