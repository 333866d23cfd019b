package telemetry

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// transportScope is the instrumentation scope of the transports' client spans.
const transportScope = ScopeName + "/transport"

// clientSpan are the options of an outbound request's span, made once.
var clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

// HTTPSpan is the client span of one outbound HTTP request. Its zero value does
// nothing.
type HTTPSpan struct {
	span trace.Span
}

// StartHTTP opens the client span of req (sent to provider, the name error
// messages use) as a child of the span in req's context, and writes the W3C
// traceparent of that span into req's headers. The traceparent is written even
// when the global tracer provider records nothing: the carrier then sees the
// caller's trace id. Baggage is not sent to carriers.
//
// The span records the method, host, port and the URL without its query or
// user info (either may carry credentials), never headers or bodies. The caller
// reports the outcome with Result and ends the span with End.
func StartHTTP(req *http.Request, provider string) HTTPSpan {
	return startHTTPWith(otel.GetTracerProvider(), req, provider)
}

func startHTTPWith(tp trace.TracerProvider, req *http.Request, provider string) HTTPSpan {
	ctx, span := tp.Tracer(transportScope).Start(req.Context(), req.Method, clientSpan...)
	if span.IsRecording() {
		attrs := []attribute.KeyValue{
			attribute.String("http.request.method", req.Method),
			attribute.String("server.address", req.URL.Hostname()),
			attribute.String("url.full", safeURL(req.URL)),
		}
		if p := req.URL.Port(); p != "" {
			if n, err := strconv.Atoi(p); err == nil {
				attrs = append(attrs, attribute.Int("server.port", n))
			}
		}
		if provider != "" {
			attrs = append(attrs, attribute.String("hub.provider", provider))
		}
		span.SetAttributes(attrs...)
	}
	if span.SpanContext().IsValid() {
		propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
	}
	return HTTPSpan{span: span}
}

// Result records the answer to the request: its status (a 4xx or 5xx marks the
// span as failed) or the transport error, whose text is not recorded (it may
// quote the URL).
func (s HTTPSpan) Result(resp *http.Response, err error) {
	if s.span == nil || !s.span.IsRecording() {
		return
	}
	switch {
	case err != nil:
		s.span.SetAttributes(attribute.String("error.type", errorType(err)))
		s.span.SetStatus(codes.Error, "no answer")
	case resp != nil:
		s.span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		if resp.StatusCode >= 400 {
			s.span.SetAttributes(attribute.String("error.type", strconv.Itoa(resp.StatusCode)))
			s.span.SetStatus(codes.Error, "")
		}
	}
}

// End ends the span.
func (s HTTPSpan) End() {
	if s.span != nil {
		s.span.End()
	}
}

// safeURL is u without user info, query or fragment.
func safeURL(u *url.URL) string {
	c := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return c.String()
}

// errorType names a transport failure by kind, not by text.
func errorType(err error) string {
	var t interface{ Timeout() bool }
	if errors.As(err, &t) && t.Timeout() {
		return "timeout"
	}
	return "transport"
}
