// Package i18n is latch's message catalog: every sentence its pages and
// emails show, in each language it ships, chosen by Accept-Language.
//
// The catalogs are JSON files under locales/, a folder per language
// (locales/en/pages.json, locales/en/mail.json...), each a flat map from
// key to message; a message names its values as {name}.
// English is written first and is what a missing key falls back to; the
// tests require every language to have exactly English's keys, with the
// same placeholders. Adding a language is adding one folder.
package i18n
