// Package config parses and validates pcrun pipeline files.
//
// It turns YAML into a typed [Pipeline] by walking yaml.v3 nodes, so every
// value keeps its source position, and reports every problem it finds as a
// [Diagnostic] (file:line:col, severity, stable code, message, hint). It runs
// nothing and imports neither the stages nor the pipeline package: those
// compile and run what config describes.
package config
