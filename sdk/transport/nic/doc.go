// Package nic is the session kernel shared by the NIC e-Way Bill (EWB API v1.03)
// and GST e-Invoice (IRP API v1.04) connectors: the RSA login envelope, AES-256-ECB
// with PKCS#7 padding under the session key (SEK), REK + HMAC-SHA256 verification of
// GET responses, and a Manager that caches the auth token and SEK per (endpoint,
// GSTIN) behind a single-flight login and NIC's login-rate limit (5 logins per 15
// minutes per GSTIN).
//
// What NIC documents, and what this package does with it:
//
//   - Login (EWB v1.03 POST <URL>/auth/, IRP v1.04 POST <URL>/v1.04/auth): the
//     credentials JSON is Base64-encoded, then RSA-encrypted with NIC's public key
//     and sent as {"Data": Base64(ciphertext)}. The padding is PKCS#1 v1.5
//     (RSA/ECB/PKCS1Padding in NIC's Java samples, PKCS1_v1_5 in the Masters India
//     sample client); see EncryptLogin.
//   - The SEK comes back AES-256-ECB/PKCS7-encrypted with the 32-byte app key the
//     client chose; see DecryptSEK.
//   - Payloads: NIC's EWB pages describe data as Encrypt(Base64(JSON), SEK); public
//     EWB and IRP clients encrypt the JSON itself. Seal takes the layering as a
//     parameter (LayerBase64JSON for EWB, LayerJSON for IRP) and Open accepts both.
//   - EWB GET responses carry data encrypted with a random key REK, the REK
//     encrypted with the SEK, and hmac = HMAC-SHA256(REK, Base64(JSON)); see OpenREK.
//
// Secrets (passwords, app keys, SEKs, REKs, tokens) never appear in errors or logs.
// Errors are *sdk.Error. This package may import sdk but never engine/.
package nic
