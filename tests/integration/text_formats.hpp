// Reading what the proxy writes, in tests: a Prometheus exposition and a file of JSON lines.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pd_proxy::test {

/// The samples of a Prometheus text exposition: "name{labels}" -> value (labels as the serialiser wrote
/// them).
std::map<std::string, double> prometheus_samples(const std::string& text);

/// Every line of the file at `path`, each parsed as JSON (a line that does not parse fails the test and is
/// returned discarded).
std::vector<nlohmann::json> json_lines_of(const std::string& path);

}  // namespace pd_proxy::test
