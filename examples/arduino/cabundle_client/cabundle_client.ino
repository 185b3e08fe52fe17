// Connect over TLS trusting exactly the roots esp-cabundle put in ca_pem.h.
// Regenerate the header with 'esp-cabundle build' in the folder above (README.md).
#include <WiFi.h>
#include <WiFiClientSecure.h>

#include "ca_pem.h"  // const char ca_pem[] (PEM, NUL-terminated) and ca_pem_len

static const char *WIFI_SSID = "your-ssid";
static const char *WIFI_PASS = "your-password";
static const char *HOST = "mdash.net";

WiFiClientSecure client;

void setup() {
  Serial.begin(115200);
  WiFi.begin(WIFI_SSID, WIFI_PASS);
  while (WiFi.status() != WL_CONNECTED) {
    delay(500);
  }
  client.setCACert(ca_pem);  // every root in the header; mbedTLS picks the one that fits
  if (client.connect(HOST, 443)) {
    Serial.println("TLS OK: the server's chain ends at a root in ca_pem.h");
    client.stop();
  } else {
    char err[100];
    client.lastError(err, sizeof(err));  // e.g. -0x2700: no trusted root for this chain
    Serial.printf("TLS failed: %s\n", err);
  }
}

void loop() {}
