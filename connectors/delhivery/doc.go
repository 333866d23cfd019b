// Package delhivery is the hub's connector for Delhivery Express, India's B2C
// parcel network (connector id delhivery_express). It books shipments
// (POST /api/cmu/create.json), tracks them (GET /api/v1/packages/json/), cancels
// them (POST /api/p/edit) and reads Delhivery's status pushes (receive_push),
// authenticating every call with the account's static token in an
// "Authorization: Token <api_token>" header. The account's BaseURL picks the
// host: track.delhivery.com in production, staging-express.delhivery.com in the
// sandbox, or a simulator in tests.
//
// It is a mixed connector: the folder (manifest.yaml with its operation
// bindings, mappings/, testdata/exchanges/, embedded and returned by Folder) is
// run by the declarative runtime (sdk/declarative), and Go adds only what a
// binding cannot say:
//
//   - track and cancel_shipment are bindings alone: the request (a values
//     mapping joins a batch's waybills, a body mapping writes the cancellation),
//     the auth, the batches of 50 with the one-waybill-at-a-time fallback when
//     Delhivery refuses a whole query for one unknown waybill, the error
//     mappings that tell Delhivery's "200 OK" refusals from answers, and the
//     response mappings.
//   - create_shipment's exchange is a binding (mappings/create-request.mapping
//     written as the form format=json&data=<json>, create-error.mapping,
//     create-response.mapping); CreateShipment first checks the request in Go
//     (check.go), because its errors name the offending field by JSON pointer and
//     a mapping's fail() names none, and names the field a refusal concerns.
//   - receive_push is a binding alone: mappings/track.mapping reads the push,
//     the same rules as track. Delhivery signs nothing, so the push carries the
//     account's push_token, which the hub checks before the connector sees the
//     push, as the manifest's inbound section declares.
//   - check_serviceability (GET /c/api/pin-codes/json/), rate (GET
//     /api/kinko/v1/invoice/charges/.json), schedule_pickup (POST
//     /fm/request/new/) and ndr_action (POST /api/p/update) are bindings alone;
//     a reverse pickup is a create_shipment whose request says "reverse" (payment
//     mode Pickup), which the Go check knows collects from ship_from.
//   - CheckHealth (a pin-code query) has no binding to be.
//
// transport.go holds the REST client the bindings and the health check share,
// which keeps Delhivery's error words and its HTTP status as the carrier code.
// The simulator subpackage answers in Delhivery's documented shapes for the
// tests and the hub's end-to-end suites; hub connector test replays the recorded
// exchanges against the generic simulator instead.
//
// # Status mapping
//
// Delhivery reports a StatusType (UD forward undelivered, DL delivered, RT
// return, PP pickup pending, PU picked up, CN cancelled), a Status text and often
// a StatusCode. The table maps them onto the canonical status and the sub-status
// vocabulary of sdk/model/TRACKING.md. raw_code is always Delhivery's key,
// verbatim: "<StatusType>/<Status>", then "/<StatusCode>" when there is one
// ("UD/In Transit/X-PPOM"); raw_text is Delhivery's Instructions, or the Status
// text when there are none.
//
//	StatusType  Status        StatusCode      canonical         sub_status
//	UD          Manifested                    pending           label_created
//	UD          Not Picked                    pending           pickup_failed
//	UD          In Transit    X-PPOM          in_transit        picked_up
//	UD          In Transit    other           in_transit        (none)
//	UD          Pending       NDR code (*)    attempt_failed    rescheduled (reason: Instructions)
//	UD          Pending       other           in_transit        arrived_at_destination
//	UD          Dispatched                    out_for_delivery  out_for_delivery
//	DL          Delivered                     delivered         delivered_to_consignee
//	DL          RTO                           returned          rto_delivered
//	DL          DTO                           delivered         delivered_to_consignee (a reverse pickup reached the client)
//	RT          In Transit                    returning         rto_in_transit
//	RT          Pending                       returning         rto_in_transit
//	RT          Dispatched                    returning         rto_out_for_delivery
//	PP          Open                          pending           label_created
//	PP          Scheduled                     pending           pickup_scheduled
//	PP          Dispatched                    pending           pickup_scheduled
//	PU          In Transit                    in_transit        picked_up
//	PU          Pending                       in_transit        arrived_at_destination
//	PU          Dispatched                    out_for_delivery  out_for_delivery
//	CN          Canceled                      cancelled         (none)
//	CN          Cancelled                     cancelled         (none)
//	CN          Closed                        cancelled         (none)
//	anything else                             unknown           unmapped
//	unknown waybill ("No such waybill ...")   unknown           not_found, with a not_found item error
//
// (*) The NDR (non-delivery report) codes are those Delhivery's NDR API accepts
// as "a delivery was attempted and failed": EOD-3, EOD-6, EOD-11, EOD-15, EOD-16,
// EOD-43, EOD-69, EOD-74, EOD-86, EOD-104 and ST-108. Delhivery does not document
// which reason each code stands for, so they all map to rescheduled and the
// carrier's words go to reason.
//
// When the current state is unmapped, the result's status is that of the most
// recent mapped scan (TRACKING.md rule 5); its raw_code and raw_text stay the
// current state's. Events are listed oldest first, each with its own mapping.
//
// Delhivery sends times without a UTC offset; they are read as Asia/Kolkata
// (IST, UTC+05:30). ScannedLocation "Amritsar_VerkaBypss_I (Punjab)" becomes
// facility "Amritsar_VerkaBypss_I", city "Amritsar", state "Punjab", country IN.
//
// # Errors
//
// Every failure is an *sdk.Error. HTTP 401/403 is auth_failed; 429 is
// rate_limited with Retry-After; 5xx, HTML error pages and connection failures are
// carrier_unavailable (NotSent when the request never left); 404, 405 and
// redirects are permanent (the bindings' status tables), since Delhivery answers
// unknown waybills with 200 and such a status means a wrong base URL; the
// carrier code of an HTTP refusal with a JSON body is its status; a create
// answered with success=false is invalid_request (or conflict for a duplicate
// order id, permanent for an account problem such as an empty wallet,
// carrier_unavailable for Delhivery's internal error) carrying Delhivery's
// remarks verbatim in CarrierMessage (create-error.mapping). A 2xx answer the
// mappings cannot read (an HTML maintenance page included) is permanent.
// Responses larger than 10 MiB are refused.
//
// This package imports only sdk (with sdk/declarative and sdk/transport/rest)
// and the standard library; it must not import engine.
package delhivery
