"""Numba kernels for exact Wasserstein and bottleneck distances between persistence diagrams.

Private module: :mod:`tda_mci.topology.distances` validates its inputs and calls these functions.
Every kernel is compiled with ``nogil=True`` (so that joblib threads run them in
parallel) and ``cache=True`` (so that the compilation, about 15-20 s, happens once per
installation, not once per process).

Conventions (shared with :mod:`tda_mci.topology.distances`)
-----------------------------------------------------------
A diagram is given by two float64 arrays ``births`` and ``deaths`` of equal length, all
finite, ``deaths > births``, sorted by death (ties by birth).  ``p`` is the ground metric
on the plane (the L^p norm, ``p >= 1`` or ``inf``); the cost of sending a point to the
diagonal is its L^p distance to the diagonal, ``(death - birth) * 2 ** (1/p - 1)``
(``kappa`` below): ``/sqrt(2)`` for p = 2, ``/2`` for p = inf, ``*1`` for p = 1.
``q`` is the Wasserstein order: the distance is ``(sum of matched costs ** q) ** (1/q)``
minimised over partial matchings; ``q = inf`` is the bottleneck distance (the largest
matched cost, minimised).  Costs are computed from coordinate differences, never from
the expansion ``|x|^2 + |y|^2 - 2 x.y``.

Why one module, and two kernels over 80 lines
---------------------------------------------
The kernels call one another (``pairs_distance`` -> ``pair_distance`` -> the three
algorithms), and numba's on-disk cache is kept per module, so they live together.
``_partial_assignment`` (shortest augmenting paths on a sparse cost matrix, the algorithm
of ``scipy.optimize.linear_sum_assignment``) and ``_general`` (exact pruning, the sparse
cost matrix and the choice of algorithm) are each one loop nest that follows the
published algorithm step by step; cutting them into smaller numba functions would put
call boundaries inside the innermost loops and make them harder to check against the
reference, so they are kept whole and tested against scipy, persim and GUDHI.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_INF = np.inf


@njit(cache=True, nogil=True, inline="always")
def _ground(b1, d1, b2, d2, p):
    """L^p distance between the points (b1, d1) and (b2, d2) of the plane."""
    x = abs(b1 - b2)
    y = abs(d1 - d2)
    if p == 2.0:
        return math.sqrt(x * x + y * y)
    if p == 1.0:
        return x + y
    if p == _INF:
        return max(x, y)
    return (x**p + y**p) ** (1.0 / p)


@njit(cache=True, nogil=True, inline="always")
def _pow(x, q):
    """``x ** q`` with the common orders special-cased (exact for q = 1 and 2)."""
    if q == 1.0:
        return x
    if q == 2.0:
        return x * x
    return x**q


# ---------------------------------------------------------------------------------------
# Exact fast path: both diagrams have one common birth value c (H0 of a Rips filtration).
#
# Matching the points (c, x) and (c, y) costs |x - y| in every L^p ground metric (the
# births cancel); sending (c, x) to the diagonal costs kappa * (x - c).  Claim: some
# optimal partial matching is non-crossing, i.e. its matched pairs increase in both
# sorted orders.  Proof: let an optimal matching contain two crossed pairs (a1, b1) and
# (a2, b2) with a1 <= a2 and b1 >= b2.  Their differences x1 = a1 - b1 and x2 = a2 - b2 are
# the smallest and the largest of the four differences a - b, so the uncrossed ones,
# y1 = a1 - b2 and y2 = a2 - b1, lie in [x1, x2], and y1 + y2 = x1 + x2.  For the convex
# h(t) = |t| ** q (q >= 1) this gives h(y1) + h(y2) <= h(x1) + h(x2) (Karamata), and for
# q = inf max(|y1|, |y2|) <= max(|x1|, |x2|) (a number inside an interval is no larger in
# absolute value than the larger of its ends).  Uncrossing never increases the cost, keeps
# the set of unmatched points and strictly reduces the number of inversions of the
# matching, so it ends in a non-crossing optimal matching.  Non-crossing partial
# matchings of two sorted sequences, with a deletion cost per unmatched element, are
# exactly what the edit-distance recursion below enumerates, so the dynamic programme
# is exact for every order q >= 1 (sums), q = inf (maxima) and every ground metric p.
# O(n m) time, O(m) memory.
# ---------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _one_dimensional(da, db, c, kappa, q):
    """Exact distance between two diagrams whose births all equal ``c``.

    ``da`` and ``db`` are the sorted deaths.  Returns ``sum cost ** q`` (not yet raised
    to ``1/q``) for finite q, the bottleneck cost for ``q = inf``.
    """
    n = da.shape[0]
    m = db.shape[0]
    bottleneck = q == _INF
    # row[j] = optimal cost of matching da[:i] against db[:j]
    row = np.empty(m + 1)
    gb = np.empty(m)  # diagonal costs of b (raised to q)
    row[0] = 0.0
    for j in range(m):
        g = kappa * (db[j] - c)
        if bottleneck:
            gb[j] = g
            row[j + 1] = max(row[j], g)
        else:
            gb[j] = _pow(g, q)
            row[j + 1] = row[j] + gb[j]
    for i in range(n):
        ai = da[i]
        g = kappa * (ai - c)
        diag = row[0]  # row_{i-1}[j-1]
        if bottleneck:
            left = max(row[0], g)  # row_i[j-1]
            row[0] = left
            for j in range(1, m + 1):
                up = row[j]
                v = max(diag, abs(ai - db[j - 1]))
                w = max(up, g)
                if w < v:
                    v = w
                w = max(left, gb[j - 1])
                if w < v:
                    v = w
                row[j] = v
                left = v
                diag = up
        elif q == 1.0:
            left = row[0] + g
            row[0] = left
            for j in range(1, m + 1):
                up = row[j]
                v = diag + abs(ai - db[j - 1])
                w = up + g
                if w < v:
                    v = w
                w = left + gb[j - 1]
                if w < v:
                    v = w
                row[j] = v
                left = v
                diag = up
        else:
            ga = _pow(g, q)
            left = row[0] + ga
            row[0] = left
            for j in range(1, m + 1):
                up = row[j]
                v = diag + _pow(abs(ai - db[j - 1]), q)
                w = up + ga
                if w < v:
                    v = w
                w = left + gb[j - 1]
                if w < v:
                    v = w
                row[j] = v
                left = v
                diag = up
    return row[m]


# ---------------------------------------------------------------------------------------
# General path: exact linear assignment.
#
# Write g_i, h_j for the diagonal costs of A_i and B_j and c_ij for the point-to-point
# cost (all raised to the order q).  A partial matching M costs
#     sum_i g_i + sum_j h_j + sum_{(i, j) in M} (c_ij - g_i - h_j),
# so the Wasserstein problem is a maximum-weight bipartite matching.  Two exact
# reductions make it small:
# 1. Pruning.  A point whose match with every point of the other diagram costs at least
#    as much as sending both to the diagonal (c_ij >= g_i + h_j for all j) can be sent to
#    the diagonal beforehand: in any optimal matching its pair can be replaced by two
#    diagonal moves without increasing the cost.
# 2. Rectangular assignment.  With the k kept points of A as rows and the l kept points
#    of B plus k "stay unmatched" columns, cost[i, j] = min(0, c_ij - g_i - h_j) and
#    cost[i, l + t] = 0, the optimal row assignment has the value of the best partial
#    matching (a pair with a clipped 0 entry is read as two unmatched points).  This is
#    k augmentations over k + l columns instead of k + l augmentations over k + l
#    columns for persim's square (n + m) matrix.
# The distance is then summed directly from the matched costs and the diagonal costs of
# the unmatched points (no cancellation).
# The bottleneck distance uses the square (n + m) matrix (rows: A then m diagonal slots;
# columns: B then n diagonal slots; slot-to-slot 0; a point costs the same against every
# slot, so the slots of a side are interchangeable) with a binary search on its entries.
# ---------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _partial_assignment(indptr, indices, weights, nr, nc):
    """Exact minimum-cost assignment of rows to columns or to an uncapacitated sink.

    Row ``i`` may take column ``indices[k]`` at cost ``weights[k] < 0`` for ``k`` in
    ``indptr[i]:indptr[i + 1]`` (CSR), each column at most once, or the sink (cost 0,
    shared by any number of rows).  This is the rectangular assignment of the module
    comment with its ``nr`` identical "unmatched" columns merged into one: a free copy
    always exists, so the merged column is always a sink and its dual stays 0; and an
    entry clipped to 0 is never needed, because from the same row the sink costs 0 too
    and has the largest dual (0), so it is never further away.  Shortest augmenting paths
    with dual potentials (Dijkstra on reduced costs, as Crouse 2016 and
    ``scipy.optimize.linear_sum_assignment``) after a row-reduction greedy start; the
    searches only touch the sparse entries.  Returns ``col4row`` (``nc`` = sink).
    """
    sink_col = nc
    ncs = nc + 1
    u = np.zeros(nr)
    v = np.zeros(ncs)
    spc = np.full(ncs, _INF)
    path = np.full(ncs, -1)
    col4row = np.full(nr, -1)
    row4col = np.full(ncs, -1)  # row4col[sink_col] stays -1: the sink is never full
    scanned = np.zeros(ncs, dtype=np.bool_)
    touched = np.empty(ncs, dtype=np.int64)  # columns with a finite tentative distance
    visited = np.empty(nr, dtype=np.int64)  # rows reached by the current search
    # Row reduction and greedy start: u_i = min(0, min_k weights) and v = 0 keep every
    # reduced cost >= 0; a row whose minimising column is free (or the sink) takes it.
    for i in range(nr):
        best = 0.0
        arg = sink_col
        for k in range(indptr[i], indptr[i + 1]):
            if weights[k] < best:
                best = weights[k]
                arg = indices[k]
        u[i] = best
        if arg == sink_col:
            col4row[i] = sink_col
        elif row4col[arg] == -1:
            row4col[arg] = i
            col4row[i] = arg
    for cur in range(nr):
        if col4row[cur] != -1:
            continue
        n_touched = 0
        n_visited = 0
        min_val = 0.0
        i = cur
        sink = -1
        while sink == -1:
            visited[n_visited] = i
            n_visited += 1
            ui = u[i]
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                if scanned[j]:
                    continue
                r = min_val + weights[k] - ui - v[j]
                if r < spc[j]:
                    if spc[j] == _INF:
                        touched[n_touched] = j
                        n_touched += 1
                    path[j] = i
                    spc[j] = r
            r = min_val - ui  # the sink: cost 0, dual 0
            if r < spc[sink_col]:
                if spc[sink_col] == _INF:
                    touched[n_touched] = sink_col
                    n_touched += 1
                path[sink_col] = i
                spc[sink_col] = r
            # closest unscanned touched column (ties: a free column ends the search)
            lowest = _INF
            index = -1
            for t in range(n_touched):
                j = touched[t]
                if scanned[j]:
                    continue
                s = spc[j]
                if s < lowest or (s == lowest and row4col[j] == -1):
                    lowest = s
                    index = j
            min_val = lowest
            j = index
            scanned[j] = True
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
        # --- update dual variables ---
        u[cur] += min_val
        for t in range(1, n_visited):
            i = visited[t]
            u[i] += min_val - spc[col4row[i]]
        for t in range(n_touched):
            j = touched[t]
            if scanned[j]:
                v[j] -= min_val - spc[j]
        v[sink_col] = 0.0
        # --- augment ---
        j = sink
        while True:
            i = path[j]
            if j != sink_col:
                row4col[j] = i
            tmp = col4row[i]
            col4row[i] = j
            j = tmp
            if i == cur:
                break
        # --- reset the search state ---
        for t in range(n_touched):
            j = touched[t]
            spc[j] = _INF
            scanned[j] = False
    return col4row


@njit(cache=True, nogil=True)
def _perfect_matching_exists(cost, nr, t, match_col, match_row, seen, stack_r, stack_c, stack_it):
    """Whether the bipartite graph {(i, j): cost[i, j] <= t} has a perfect matching.

    Kuhn's augmenting paths (depth-first, explicit stack) after a greedy start.
    """
    match_col[:] = -1  # row matched to column j
    match_row[:] = -1  # column matched to row i
    for i in range(nr):
        for j in range(nr):
            if match_col[j] == -1 and cost[i, j] <= t:
                match_col[j] = i
                match_row[i] = j
                break
    for root in range(nr):
        if match_row[root] != -1:
            continue
        seen[:] = False
        depth = 0
        stack_r[0] = root
        stack_it[0] = 0
        found = False
        while depth >= 0:
            i = stack_r[depth]
            j = stack_it[depth]
            while j < nr and (seen[j] or cost[i, j] > t):
                j += 1
            if j == nr:
                depth -= 1
                continue
            stack_it[depth] = j + 1
            seen[j] = True
            stack_c[depth] = j
            if match_col[j] == -1:
                # augmenting path root -> c0 -> r1 -> c1 -> ... -> c_depth (free)
                for k in range(depth + 1):
                    match_col[stack_c[k]] = stack_r[k]
                    match_row[stack_r[k]] = stack_c[k]
                found = True
                break
            depth += 1
            stack_r[depth] = match_col[j]
            stack_it[depth] = 0
        if not found:
            return False
    return True


@njit(cache=True, nogil=True)
def _bottleneck_assignment(cost, nr):
    """Smallest t such that ``cost`` has a perfect matching using entries <= t (exact)."""
    if nr == 0:
        return 0.0
    values = np.unique(cost[:nr, :nr].copy().ravel())
    match_col = np.empty(nr, dtype=np.int64)
    match_row = np.empty(nr, dtype=np.int64)
    seen = np.empty(nr, dtype=np.bool_)
    stack_r = np.empty(nr + 1, dtype=np.int64)
    stack_c = np.empty(nr + 1, dtype=np.int64)
    stack_it = np.empty(nr + 1, dtype=np.int64)
    lo = 0
    hi = values.shape[0] - 1  # the largest value is always feasible
    while lo < hi:
        mid = (lo + hi) // 2
        if _perfect_matching_exists(
            cost, nr, values[mid], match_col, match_row, seen, stack_r, stack_c, stack_it
        ):
            hi = mid
        else:
            lo = mid + 1
    return values[lo]


@njit(cache=True, nogil=True)
def _general(ba, da, bb, db, p, kappa, q):
    """Exact distance between two arbitrary non-empty diagrams by assignment.

    Returns ``sum cost ** q`` (before the ``1/q`` root) for finite q, the bottleneck cost
    for ``q = inf``.
    """
    n = ba.shape[0]
    m = bb.shape[0]
    bottleneck = q == _INF
    ga = np.empty(n)  # diagonal costs (raised to q unless bottleneck)
    gb = np.empty(m)
    for i in range(n):
        g = kappa * (da[i] - ba[i])
        ga[i] = g if bottleneck else _pow(g, q)
    for j in range(m):
        g = kappa * (db[j] - bb[j])
        gb[j] = g if bottleneck else _pow(g, q)
    pair = np.empty((n, m))
    keep_a = np.zeros(n, dtype=np.bool_)
    keep_b = np.zeros(m, dtype=np.bool_)
    for i in range(n):
        for j in range(m):
            c = _ground(ba[i], da[i], bb[j], db[j], p)
            if bottleneck:
                pair[i, j] = c
                if c < max(ga[i], gb[j]):
                    keep_a[i] = True
                    keep_b[j] = True
            else:
                c = _pow(c, q)
                pair[i, j] = c
                if c < ga[i] + gb[j]:
                    keep_a[i] = True
                    keep_b[j] = True
    ia = np.empty(n, dtype=np.int64)
    ib = np.empty(m, dtype=np.int64)
    k = 0
    for i in range(n):
        if keep_a[i]:
            ia[k] = i
            k += 1
    ell = 0
    for j in range(m):
        if keep_b[j]:
            ib[ell] = j
            ell += 1
    if bottleneck:
        fixed = 0.0
        for i in range(n):
            if not keep_a[i]:
                fixed = max(fixed, ga[i])
        for j in range(m):
            if not keep_b[j]:
                fixed = max(fixed, gb[j])
        nr = k + ell
        if nr == 0:
            return fixed
        cost = np.zeros((nr, nr))
        for r in range(k):
            i = ia[r]
            for c in range(ell):
                cost[r, c] = pair[i, ib[c]]
            for c in range(ell, nr):
                cost[r, c] = ga[i]
        for r in range(k, nr):
            for c in range(ell):
                cost[r, c] = gb[ib[c]]
        return max(fixed, _bottleneck_assignment(cost, nr))
    matched_a = np.full(n, -1)
    if k > 0:
        # rows: the smaller kept side (fewer augmentations); sparse negative entries
        transpose = k > ell
        nr = ell if transpose else k
        nc = k if transpose else ell
        indptr = np.empty(nr + 1, dtype=np.int64)
        indices = np.empty(k * ell, dtype=np.int64)
        weights = np.empty(k * ell)
        nnz = 0
        for r in range(nr):
            indptr[r] = nnz
            for c in range(nc):
                i = ia[c] if transpose else ia[r]
                j = ib[r] if transpose else ib[c]
                w = pair[i, j] - ga[i] - gb[j]
                if w < 0.0:
                    indices[nnz] = c
                    weights[nnz] = w
                    nnz += 1
        indptr[nr] = nnz
        col4row = _partial_assignment(indptr, indices, weights, nr, nc)
        for r in range(nr):
            c = col4row[r]
            if c < nc:
                if transpose:
                    matched_a[ia[c]] = ib[r]
                else:
                    matched_a[ia[r]] = ib[c]
    total = 0.0
    used_b = np.zeros(m, dtype=np.bool_)
    for i in range(n):
        j = matched_a[i]
        if j >= 0:
            total += pair[i, j]
            used_b[j] = True
        else:
            total += ga[i]
    for j in range(m):
        if not used_b[j]:
            total += gb[j]
    return total


@njit(cache=True, nogil=True)
def prepare_diagram(arr):
    """Validate a C-contiguous (k, 2) float64 diagram and return its kept, sorted bars.

    Returns ``(births, deaths, common, status, row)``: the bars with finite death and
    ``death > birth`` sorted by death then birth; their common birth (NaN if they differ
    or there are none); ``status`` 0 (valid), 1 (NaN), 2 (infinite birth) or 3 (death
    before birth) with the first offending ``row``.
    """
    k = arr.shape[0]
    n_keep = 0
    for i in range(k):
        b = arr[i, 0]
        d = arr[i, 1]
        if math.isnan(b) or math.isnan(d):
            return np.empty(0), np.empty(0), math.nan, 1, i
        if math.isinf(b):
            return np.empty(0), np.empty(0), math.nan, 2, i
        if d < b:
            return np.empty(0), np.empty(0), math.nan, 3, i
        if d > b and d != _INF:
            n_keep += 1
    births = np.empty(n_keep)
    deaths = np.empty(n_keep)
    n = 0
    for i in range(k):
        b = arr[i, 0]
        d = arr[i, 1]
        if d > b and d != _INF:
            births[n] = b
            deaths[n] = d
            n += 1
    sorted_ = True
    for i in range(1, n_keep):
        if deaths[i] < deaths[i - 1] or (deaths[i] == deaths[i - 1] and births[i] < births[i - 1]):
            sorted_ = False
            break
    if not sorted_:  # stable sorts: by birth, then by death
        order = np.argsort(births, kind="mergesort")
        births = births[order]
        deaths = deaths[order]
        order = np.argsort(deaths, kind="mergesort")
        births = births[order]
        deaths = deaths[order]
    common = math.nan
    if n_keep > 0:
        common = births[0]
        for i in range(1, n_keep):
            if births[i] != common:
                common = math.nan
                break
    return births, deaths, common, 0, -1


@njit(cache=True, nogil=True)
def _swap(ba, da, bb, db):
    """Whether (b, a) precedes (a, b): by size, then deaths, then births."""
    n = ba.shape[0]
    m = bb.shape[0]
    if n != m:
        return m < n
    for k in range(n):
        if da[k] != db[k]:
            return db[k] < da[k]
    for k in range(n):
        if ba[k] != bb[k]:
            return bb[k] < ba[k]
    return False


@njit(cache=True, nogil=True)
def pair_distance(ba, da, ca, bb, db, cb, p, kappa, q):
    """Exact distance between two validated diagrams.

    Parameters
    ----------
    ba, da, bb, db : float64 arrays
        Births and deaths, sorted by death, finite, ``death > birth``.
    ca, cb : float
        The common birth of each diagram, or NaN if births differ (or it is empty).
    p : float
        Ground metric (L^p), ``p >= 1`` or ``inf``.
    kappa : float
        ``2 ** (1/p - 1)``: distance to the diagonal per unit of persistence.
    q : float
        Wasserstein order ``>= 1``, or ``inf`` for the bottleneck distance.
    """
    if _swap(ba, da, bb, db):  # canonical order: d(a, b) == d(b, a) bit for bit
        ba, da, ca, bb, db, cb = bb, db, cb, ba, da, ca
    n = ba.shape[0]
    m = bb.shape[0]
    bottleneck = q == _INF
    if n == 0 or m == 0:  # every point goes to the diagonal
        s = 0.0
        for i in range(n):
            g = kappa * (da[i] - ba[i])
            s = max(s, g) if bottleneck else s + _pow(g, q)
        for j in range(m):
            g = kappa * (db[j] - bb[j])
            s = max(s, g) if bottleneck else s + _pow(g, q)
    elif ca == cb:  # one common birth (NaN == NaN is False): exact 1-D programme
        s = _one_dimensional(da, db, ca, kappa, q)
    else:
        s = _general(ba, da, bb, db, p, kappa, q)
    if bottleneck or q == 1.0:
        return s
    return s ** (1.0 / q)


@njit(cache=True, nogil=True)
def pairs_distance(
    b1, d1, off1, c1, b2, d2, off2, c2, rows, cols, p, kappa, q, out
):  # pragma: no cover - exercised through distances.py
    """Distances for the pairs ``(rows[k], cols[k])`` of two packed diagram sets.

    ``b*, d*`` are the concatenated births/deaths, ``off*`` the offsets (length n+1) and
    ``c*`` the common births (NaN where births differ) of each set; ``out[k]`` receives
    the distance between diagram ``rows[k]`` of set 1 and diagram ``cols[k]`` of set 2.
    """
    for k in range(rows.shape[0]):
        i = rows[k]
        j = cols[k]
        s1 = off1[i]
        e1 = off1[i + 1]
        s2 = off2[j]
        e2 = off2[j + 1]
        out[k] = pair_distance(
            b1[s1:e1], d1[s1:e1], c1[i], b2[s2:e2], d2[s2:e2], c2[j], p, kappa, q
        )
